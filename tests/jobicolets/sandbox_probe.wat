;; sandbox_probe: a ver 0 (TinyGo style) Jobicolet that looks for a way out of
;; its sandbox through WASI. During `event` it asks for
;;   - the environment: environ_sizes_get -> the number of variables,
;;   - the arguments: args_sizes_get -> the number of arguments,
;;   - a preopened directory: fd_prestat_get(3) -> the errno,
;;   - a file: path_open(3, "etc/passwd", read) -> the errno,
;; and returns code 0 and `environ=<n> args=<n> prestat=<errno> open=<errno>`.
;; The counts are preset to 4294967295, so a call that writes nothing shows.
;; In a host with nothing to give, the result is `environ=0 args=0 prestat=8
;; open=8` (8 is ERRNO_BADF: fd 3 is not open).
(module
  (import "env" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "environ_sizes_get"
    (func $environ_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "args_sizes_get"
    (func $args_sizes_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_prestat_get"
    (func $fd_prestat_get (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "path_open"
    (func $path_open
      (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "environ=")
  (data (i32.const 24) " args=")
  (data (i32.const 32) " prestat=")
  (data (i32.const 48) " open=")
  (data (i32.const 64) "etc/passwd")
  ;; Scratch: environ count @80, size @84; argc @88, size @92;
  ;; prestat @96 (8 bytes); opened fd @104.

  ;; A bump allocator: 8-byte aligned, grows memory as needed, never frees.
  (global $heap (mut i32) (i32.const 1024))
  (func $malloc (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap
      (i32.and
        (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 7))
        (i32.const -8)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then
        (if (i32.eq
              (memory.grow
                (i32.add
                  (i32.shr_u
                    (i32.sub (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
                    (i32.const 16))
                  (i32.const 1)))
              (i32.const -1))
          (then unreachable))))
    (local.get $ptr))
  ;; ver 0: free(ptr).
  (func (export "free") (param $ptr i32))

  (func (export "init"))
  (func (export "ver") (result i32) (i32.const 0))

  ;; Copies len bytes from src to dst; returns dst + len.
  (func $append (param $dst i32) (param $src i32) (param $len i32) (result i32)
    (memory.copy (local.get $dst) (local.get $src) (local.get $len))
    (i32.add (local.get $dst) (local.get $len)))

  ;; Writes the decimal digits of the unsigned n at dst; returns the end.
  (func $utoa (param $dst i32) (param $n i32) (result i32)
    (local $len i32) (local $t i32) (local $p i32)
    (local.set $t (local.get $n))
    (local.set $len (i32.const 1))
    (block $counted
      (loop $count
        (br_if $counted (i32.lt_u (local.get $t) (i32.const 10)))
        (local.set $t (i32.div_u (local.get $t) (i32.const 10)))
        (local.set $len (i32.add (local.get $len) (i32.const 1)))
        (br $count)))
    (local.set $p (i32.add (local.get $dst) (local.get $len)))
    (loop $digit
      (local.set $p (i32.sub (local.get $p) (i32.const 1)))
      (i32.store8 (local.get $p)
        (i32.add (i32.const 48) (i32.rem_u (local.get $n) (i32.const 10))))
      (local.set $n (i32.div_u (local.get $n) (i32.const 10)))
      (br_if $digit (local.get $n)))
    (i32.add (local.get $dst) (local.get $len)))

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $prestat i32) (local $open i32) (local $out i32) (local $end i32)
    (i32.store (i32.const 80) (i32.const -1))
    (i32.store (i32.const 88) (i32.const -1))
    (drop (call $environ_sizes_get (i32.const 80) (i32.const 84)))
    (drop (call $args_sizes_get (i32.const 88) (i32.const 92)))
    (local.set $prestat (call $fd_prestat_get (i32.const 3) (i32.const 96)))
    ;; path_open(dirfd 3, no follow flags, "etc/passwd", no oflags,
    ;;           rights fd_read (2), no inherited rights, no fdflags, &fd)
    (local.set $open
      (call $path_open (i32.const 3) (i32.const 0) (i32.const 64) (i32.const 10)
        (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 104)))

    (local.set $out (call $malloc (i32.const 128)))
    (local.set $end (call $append (local.get $out) (i32.const 16) (i32.const 8)))
    (local.set $end (call $utoa (local.get $end) (i32.load (i32.const 80))))
    (local.set $end (call $append (local.get $end) (i32.const 24) (i32.const 6)))
    (local.set $end (call $utoa (local.get $end) (i32.load (i32.const 88))))
    (local.set $end (call $append (local.get $end) (i32.const 32) (i32.const 9)))
    (local.set $end (call $utoa (local.get $end) (local.get $prestat)))
    (local.set $end (call $append (local.get $end) (i32.const 48) (i32.const 6)))
    (local.set $end (call $utoa (local.get $end) (local.get $open)))

    (i64.store (local.get $retptr) (i64.const 0))
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.extend_i32_u (i32.sub (local.get $end) (local.get $out))))))
)
