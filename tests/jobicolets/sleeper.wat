;; sleeper: a ver 1 (Rust style) Jobicolet that sleeps through WASI poll_oneoff.
;; With an empty input, `event` sleeps twice on its own subscription: a clock
;; subscription (userdata 4660) on the monotonic clock, relative, for 60 s.
;; A host that caps sleeping returns early from both.
;; Any other input is the subscriptions themselves (48 bytes each, as WASI
;; lays them out; an input shorter than 48 bytes means 0 subscriptions), and
;; `event` calls poll_oneoff once with them.
;; The result is the last call's
;;   `errno=<errno> error=<event.error> type=<event.type> userdata=<low 32 bits of event.userdata> nevents=<n>`
;; and the code is the sum of the errnos. The event and nevents are preset to
;; all ones, so what the host did not write shows as 65535 / 255 / 4294967295.
(module
  (import "env" "log" (func $log (param i32 i32 i32)))
  (import "wasi_snapshot_preview1" "poll_oneoff"
    (func $poll_oneoff (param i32 i32 i32 i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "errno=")
  (data (i32.const 24) " error=")
  (data (i32.const 32) " type=")
  (data (i32.const 40) " userdata=")
  (data (i32.const 56) " nevents=")
  ;; The built-in subscription @128 (48 bytes), the event @192 (32 bytes),
  ;; nevents @256.

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
  ;; ver 1: free(ptr, len).
  (func (export "free") (param $ptr i32) (param $len i32))

  (func (export "init"))
  (func (export "ver") (result i32) (i32.const 1))

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
    (local $sub i32) (local $n i32) (local $rounds i32) (local $errno i32)
    (local $code i64) (local $out i32) (local $end i32)
    (if (i32.eqz (local.get $inLen))
      (then
        ;; userdata 4660, clock (tag 0), monotonic (id 1), 60 s, precision 0, relative
        (memory.fill (i32.const 128) (i32.const 0) (i32.const 48))
        (i64.store (i32.const 128) (i64.const 4660))
        (i32.store (i32.const 144) (i32.const 1))
        (i64.store (i32.const 152) (i64.const 60000000000))
        (local.set $sub (i32.const 128))
        (local.set $n (i32.const 1))
        (local.set $rounds (i32.const 2)))
      (else
        (local.set $sub (local.get $inPtr))
        (local.set $n (i32.div_u (local.get $inLen) (i32.const 48)))
        (local.set $rounds (i32.const 1))))
    (loop $round
      (memory.fill (i32.const 192) (i32.const 255) (i32.const 32))
      (i32.store (i32.const 256) (i32.const -1))
      (local.set $errno
        (call $poll_oneoff (local.get $sub) (i32.const 192) (local.get $n) (i32.const 256)))
      (local.set $code (i64.add (local.get $code) (i64.extend_i32_u (local.get $errno))))
      (local.set $rounds (i32.sub (local.get $rounds) (i32.const 1)))
      (br_if $round (local.get $rounds)))

    (local.set $out (call $malloc (i32.const 128)))
    (local.set $end (call $append (local.get $out) (i32.const 16) (i32.const 6)))
    (local.set $end (call $utoa (local.get $end) (local.get $errno)))
    (local.set $end (call $append (local.get $end) (i32.const 24) (i32.const 7)))
    (local.set $end (call $utoa (local.get $end) (i32.load16_u (i32.const 200))))
    (local.set $end (call $append (local.get $end) (i32.const 32) (i32.const 6)))
    (local.set $end (call $utoa (local.get $end) (i32.load8_u (i32.const 202))))
    (local.set $end (call $append (local.get $end) (i32.const 40) (i32.const 10)))
    (local.set $end (call $utoa (local.get $end) (i32.load (i32.const 192))))
    (local.set $end (call $append (local.get $end) (i32.const 56) (i32.const 9)))
    (local.set $end (call $utoa (local.get $end) (i32.load (i32.const 256))))

    (i64.store (local.get $retptr) (local.get $code))
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.extend_i32_u (i32.sub (local.get $end) (local.get $out))))))
)
