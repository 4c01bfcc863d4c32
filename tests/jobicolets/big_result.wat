;; big_result: a ver 1 (Rust style) Jobicolet whose result is as long as it
;; is asked. Its input is a number as JSON (e.g. `100000`; what is not a
;; digit is skipped); `event` returns code 0 and a JSON string of that many
;; `x` characters between quotes as the result. Chained to a result event,
;; a result larger than a KV value cannot be queued.
(module
  (import "env" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 1)

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

  ;; The decimal digits of [ptr, ptr + len) as a number; other bytes are skipped.
  (func $digits (param $ptr i32) (param $len i32) (result i32)
    (local $n i32) (local $c i32)
    (block $done
      (loop $next
        (br_if $done (i32.eqz (local.get $len)))
        (local.set $c (i32.load8_u (local.get $ptr)))
        (if (i32.and (i32.ge_u (local.get $c) (i32.const 48))
                     (i32.le_u (local.get $c) (i32.const 57)))
          (then
            (local.set $n
              (i32.add (i32.mul (local.get $n) (i32.const 10))
                       (i32.sub (local.get $c) (i32.const 48))))))
        (local.set $ptr (i32.add (local.get $ptr) (i32.const 1)))
        (local.set $len (i32.sub (local.get $len) (i32.const 1)))
        (br $next)))
    (local.get $n))

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $n i32) (local $out i32)
    (local.set $n (call $digits (local.get $inPtr) (local.get $inLen)))
    (local.set $out (call $malloc (i32.add (local.get $n) (i32.const 2))))
    (i32.store8 (local.get $out) (i32.const 34))
    (memory.fill (i32.add (local.get $out) (i32.const 1)) (i32.const 120) (local.get $n))
    (i32.store8 (i32.add (i32.add (local.get $out) (i32.const 1)) (local.get $n)) (i32.const 34))
    (i64.store (local.get $retptr) (i64.const 0))
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.extend_i32_u (i32.add (local.get $n) (i32.const 2))))))
)
