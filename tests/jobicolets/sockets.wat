;; sockets: a ver 0 (TinyGo style) Jobicolet that tries the WASI socket calls.
;; A host without networking answers each with an errno: ERRNO_BADF (8) for a
;; descriptor that is not open, ERRNO_NOTSUP (58) for one that is (0-2).
;; `event` returns code 0 and
;;   `recv(3)=<errno> recv(0)=<errno> send(1)=<errno> shutdown(2)=<errno> accept(5)=<errno>`
;; and, when the input is "raise", first calls proc_raise(6) (SIGABRT).
(module
  (import "env" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "sock_recv"
    (func $sock_recv (param i32 i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_send"
    (func $sock_send (param i32 i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_shutdown"
    (func $sock_shutdown (param i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "sock_accept"
    (func $sock_accept (param i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_raise"
    (func $proc_raise (param i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "recv(3)=")
  (data (i32.const 24) " recv(0)=")
  (data (i32.const 40) " send(1)=")
  (data (i32.const 56) " shutdown(2)=")
  (data (i32.const 72) " accept(5)=")
  ;; An iovec {ptr 512, len 16} @96; out-parameters @104, @108.
  (data (i32.const 96) "\00\02\00\00\10\00\00\00")

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
    (local $out i32) (local $end i32)
    ;; "raise" = 0x65 0x73 0x69 0x61 0x72 (little-endian i32 "rais") + "e"
    (if (i32.and
          (i32.eq (local.get $inLen) (i32.const 5))
          (i32.eq (i32.load (local.get $inPtr)) (i32.const 0x73696172)))
      (then (drop (call $proc_raise (i32.const 6)))))
    (local.set $out (call $malloc (i32.const 128)))
    (local.set $end (call $append (local.get $out) (i32.const 16) (i32.const 8)))
    (local.set $end (call $utoa (local.get $end)
      (call $sock_recv (i32.const 3) (i32.const 96) (i32.const 1) (i32.const 0)
        (i32.const 104) (i32.const 108))))
    (local.set $end (call $append (local.get $end) (i32.const 24) (i32.const 9)))
    (local.set $end (call $utoa (local.get $end)
      (call $sock_recv (i32.const 0) (i32.const 96) (i32.const 1) (i32.const 0)
        (i32.const 104) (i32.const 108))))
    (local.set $end (call $append (local.get $end) (i32.const 40) (i32.const 9)))
    (local.set $end (call $utoa (local.get $end)
      (call $sock_send (i32.const 1) (i32.const 96) (i32.const 1) (i32.const 0)
        (i32.const 104))))
    (local.set $end (call $append (local.get $end) (i32.const 56) (i32.const 13)))
    (local.set $end (call $utoa (local.get $end)
      (call $sock_shutdown (i32.const 2) (i32.const 0))))
    (local.set $end (call $append (local.get $end) (i32.const 72) (i32.const 11)))
    (local.set $end (call $utoa (local.get $end)
      (call $sock_accept (i32.const 5) (i32.const 0) (i32.const 104))))

    (i64.store (local.get $retptr) (i64.const 0))
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.extend_i32_u (i32.sub (local.get $end) (local.get $out))))))
)
