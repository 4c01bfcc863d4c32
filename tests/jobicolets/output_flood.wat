;; output_flood: a ver 1 (Rust style) Jobicolet that tries to make the host
;; keep unbounded output. Each export is a main function (the runtime's
;; `mainfuncname` picks one); none of them returns normally in bounded
;; memory unless the host caps what it captures:
;;
;; - `stdout`, `stderr`: ONE `fd_write` with 100,000 iovecs that all point
;;   at the same 64 KiB buffer (6.1 GiB "written" by one call), then 1,000
;;   more such calls.
;; - `stdin`: the same writes to fd 0 (the shim's stdin is a growable file).
;; - `pwrite`: `fd_pwrite` of 64 KiB to fd 0 at offset 3 GiB.
;; - `allocate`: `fd_allocate` of 3 GiB on fd 0, `fd_filestat_set_size` to 3 GiB.
;; - `log`: 100,000 calls of `env.log` with 64 KiB each.
;; - `lines`: 1,000,000 `fd_write`s of a 2-byte line ("x\n") to stdout.
;; Each returns code 0 and "done" if the host let it finish.
(module
  (import "env" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pwrite"
    (func $fd_pwrite (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_allocate"
    (func $fd_allocate (param i32 i64 i64) (result i32)))
  (import "wasi_snapshot_preview1" "fd_filestat_set_size"
    (func $fd_filestat_set_size (param i32 i64) (result i32)))

  ;; 0..64 KiB: the buffer written over and over; 64 KiB..: iovecs (800 KB);
  ;; 1 MiB: nwritten; 1 MiB + 16: "done"; then the heap.
  (memory (export "memory") 32)
  (data (i32.const 1048592) "done")

  (global $heap (mut i32) (i32.const 1048640))
  (func (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 7))
        (i32.const -8)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.const 16)))))
    (local.get $ptr))
  (func (export "free") (param $ptr i32) (param $size i32))
  (func (export "init"))
  (func (export "ver") (result i32) (i32.const 1))

  ;; Fills the 64 KiB buffer with 'A' and writes `n` iovecs pointing at it.
  (func $iovecs (param $n i32)
    (local $i i32)
    (memory.fill (i32.const 0) (i32.const 65) (i32.const 65536))
    (i32.store8 (i32.const 65535) (i32.const 10))
    (block $done
      (loop $l
        (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
        (i32.store (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 3)))
          (i32.const 0))
        (i32.store offset=4 (i32.add (i32.const 65536) (i32.shl (local.get $i) (i32.const 3)))
          (i32.const 65536))
        (local.set $i (i32.add (local.get $i) (i32.const 1)))
        (br $l))))

  (func $done (param $retptr i32)
    (i64.store (local.get $retptr) (i64.const 0))
    (i64.store offset=8 (local.get $retptr)
      (i64.or (i64.shl (i64.const 1048592) (i64.const 32)) (i64.const 4))))

  (func $flood (param $fd i32)
    (local $k i32)
    (call $iovecs (i32.const 100000))
    (loop $l
      (drop (call $fd_write (local.get $fd) (i32.const 65536) (i32.const 100000)
        (i32.const 1048576)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (i32.const 1001)))))

  (func (export "stdout") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (call $flood (i32.const 1))
    (call $done (local.get $retptr)))
  (func (export "stderr") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (call $flood (i32.const 2))
    (call $done (local.get $retptr)))
  (func (export "stdin") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (call $flood (i32.const 0))
    (call $done (local.get $retptr)))

  (func (export "pwrite") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (call $iovecs (i32.const 1))
    (drop (call $fd_pwrite (i32.const 0) (i32.const 65536) (i32.const 1)
      (i64.const 3221225472) (i32.const 1048576)))
    (call $done (local.get $retptr)))

  (func (export "allocate") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (drop (call $fd_allocate (i32.const 0) (i64.const 0) (i64.const 3221225472)))
    (drop (call $fd_filestat_set_size (i32.const 0) (i64.const 3221225472)))
    (call $done (local.get $retptr)))

  (func (export "log") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $k i32)
    (memory.fill (i32.const 0) (i32.const 66) (i32.const 65536))
    (loop $l
      (call $log (i32.const 1) (i32.const 0) (i32.const 65536))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (i32.const 100000))))
    (call $done (local.get $retptr)))

  (func (export "lines") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $k i32)
    (i32.store8 (i32.const 0) (i32.const 120))
    (i32.store8 (i32.const 1) (i32.const 10))
    (i32.store (i32.const 65536) (i32.const 0))
    (i32.store (i32.const 65540) (i32.const 2))
    (loop $l
      (drop (call $fd_write (i32.const 1) (i32.const 65536) (i32.const 1)
        (i32.const 1048576)))
      (local.set $k (i32.add (local.get $k) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $k) (i32.const 1000000))))
    (call $done (local.get $retptr)))
)
