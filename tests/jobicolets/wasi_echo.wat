;; wasi_echo: a ver 0 (TinyGo style) Jobicolet that writes through WASI.
;; During `event` it writes "to stdout\n" to fd 1 and "to stderr\n" to fd 2
;; with wasi_snapshot_preview1.fd_write (the host captures both as log lines),
;; then returns code 0 and "ok". If an fd_write fails it returns code
;; 100 + errno and "fd_write failed".
(module
  (import "env" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "fd_write"
    (func $fd_write (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "to stdout\n")
  (data (i32.const 32) "to stderr\n")
  (data (i32.const 48) "ok")
  (data (i32.const 56) "fd_write failed")
  ;; iovecs {ptr, len} at 64 (stdout) and 72 (stderr); nwritten at 80.
  (data (i32.const 64) "\10\00\00\00\0a\00\00\00\20\00\00\00\0a\00\00\00")

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

  ;; Writes len bytes at src to a fresh malloc'ed copy as the result.
  (func $result (param $retptr i32) (param $code i64) (param $src i32) (param $len i32)
    (local $out i32)
    (local.set $out (call $malloc (local.get $len)))
    (memory.copy (local.get $out) (local.get $src) (local.get $len))
    (i64.store (local.get $retptr) (local.get $code))
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.extend_i32_u (local.get $len)))))

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $errno i32)
    (local.set $errno
      (call $fd_write (i32.const 1) (i32.const 64) (i32.const 1) (i32.const 80)))
    (if (i32.eqz (local.get $errno))
      (then
        (local.set $errno
          (call $fd_write (i32.const 2) (i32.const 72) (i32.const 1) (i32.const 80)))))
    (if (local.get $errno)
      (then
        (call $result (local.get $retptr)
          (i64.add (i64.const 100) (i64.extend_i32_u (local.get $errno)))
          (i32.const 56) (i32.const 15))
        (return)))
    (call $result (local.get $retptr) (i64.const 0) (i32.const 48) (i32.const 2)))
)
