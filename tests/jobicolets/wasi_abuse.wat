;; wasi_abuse: WASI and env.log calls a hostile module makes with ranges the
;; host must not trust. Each function returns its errnos in the code (one
;; byte each, first call lowest) and no result. Memory: 2048 pages (128 MiB,
;; the default limit), so "the whole memory" is large.
(module
  (import "env" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_pread" (func $pread (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_readdir" (func $readdir (param i32 i32 i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "random_get" (func $random (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "clock_time_get" (func $clock (param i32 i64 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get" (func $args (param i32 i32) (result i32)))

  (memory (export "memory") 2048)
  (func (export "malloc") (param i32) (result i32) (i32.const 1024))
  (func (export "free") (param i32))
  (func (export "init"))

  ;; The end of memory, in bytes.
  (func $end (result i32) (i32.shl (memory.size) (i32.const 16)))

  (func $answer (param $ret i32) (param $code i64)
    (i64.store (local.get $ret) (local.get $code))
    (i64.store offset=8 (local.get $ret) (i64.const 0)))

  ;; Packs four errnos into a code, the first in the lowest byte.
  (func $pack (param i32 i32 i32 i32) (result i64)
    (i64.extend_i32_u
      (i32.or
        (i32.or (local.get 0) (i32.shl (local.get 1) (i32.const 8)))
        (i32.or (i32.shl (local.get 2) (i32.const 16)) (i32.shl (local.get 3) (i32.const 24))))))

  ;; fd_read from stdin over every iovec the memory holds (all zero, 16
  ;; million of them); the count it read is stored at 32 and must be 0.
  ;; Then: iovecs past the end, the count's pointer past the end, stdout.
  (func (export "read_all") (param $ret i32) (param i32 i32)
    (i32.store (i32.const 32) (i32.const 99))
    (call $answer (local.get $ret)
      (call $pack
        (i32.or
          (call $read (i32.const 0) (i32.const 64)
            (i32.shr_u (i32.sub (call $end) (i32.const 64)) (i32.const 3))
            (i32.const 32))
          (i32.shl (i32.load (i32.const 32)) (i32.const 4)))
        (call $read (i32.const 0) (i32.sub (call $end) (i32.const 8)) (i32.const 2) (i32.const 32))
        (call $read (i32.const 0) (i32.const 64) (i32.const 1) (i32.const -4))
        (call $read (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 32)))))

  ;; fd_pread on stdin and on fd 9; path_open with a path the size of the
  ;; memory, from stdin's descriptor and from fd 3 (none); fd_readdir.
  (func (export "paths") (param $ret i32) (param i32 i32)
    (call $answer (local.get $ret)
      (i64.or
        (call $pack
          (call $pread (i32.const 0) (i32.const 64) (i32.const 1) (i64.const 0) (i32.const 32))
          (call $pread (i32.const 9) (i32.const 64) (i32.const 1) (i64.const 0) (i32.const 32))
          (call $open (i32.const 0) (i32.const 0) (i32.const 64) (i32.sub (call $end) (i32.const 64))
            (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 32))
          (call $open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const -1)
            (i32.const 0) (i64.const 0) (i64.const 0) (i32.const 0) (i32.const 32)))
        (i64.shl
          (i64.extend_i32_u
            (call $readdir (i32.const 0) (i32.const 64) (i32.const -1) (i64.const 0) (i32.const 32)))
          (i64.const 32)))))

  ;; random_get: 8 bytes at -16 (would be the end of memory, counted from
  ;; the end), 64 bytes 4 before the end, then 32 bytes at 64 (fine). The
  ;; last 16 bytes of memory must still be zero: their sum is the high byte.
  (func (export "random") (param $ret i32) (param i32 i32)
    (local $sum i64)
    (local $a i32) (local $b i32) (local $c i32)
    (local.set $a (call $random (i32.const -16) (i32.const 8)))
    (local.set $b (call $random (i32.sub (call $end) (i32.const 4)) (i32.const 64)))
    (local.set $c (call $random (i32.const 64) (i32.const 32)))
    (local.set $sum
      (i64.or
        (i64.load (i32.sub (call $end) (i32.const 16)))
        (i64.load (i32.sub (call $end) (i32.const 8)))))
    (call $answer (local.get $ret)
      (call $pack (local.get $a) (local.get $b) (local.get $c)
        (i32.wrap_i64 (i64.extend_i32_u (i64.ne (local.get $sum) (i64.const 0)))))))

  ;; Results written through pointers outside memory.
  (func (export "pointers") (param $ret i32) (param i32 i32)
    (call $answer (local.get $ret)
      (call $pack
        (call $clock (i32.const 0) (i64.const 0) (i32.const -8))
        (call $args (i32.const -4) (i32.const 0))
        (call $clock (i32.const 0) (i64.const 0) (i32.const 64))
        (i32.const 0))))

  ;; env.log outside memory, a million times.
  (func (export "bad_logs") (param $ret i32) (param i32 i32)
    (local $i i32)
    (loop $l
      (call $log (i32.const 1) (i32.const -1) (i32.const 100))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $l (i32.lt_u (local.get $i) (i32.const 1000000))))
    (call $answer (local.get $ret) (i64.const 0)))
)
