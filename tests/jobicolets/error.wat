;; error: a ver 0 (TinyGo style) Jobicolet, without a `ver` export, that
;; reports an error: `event` returns code 7 and the result "bad input"
;; (copied from a data segment into malloc'ed memory).
(module
  (import "env" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "bad input")

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

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $out i32)
    (local.set $out (call $malloc (i32.const 9)))
    (memory.copy (local.get $out) (i32.const 16) (i32.const 9))
    ;; code
    (i64.store (local.get $retptr) (i64.const 7))
    ;; (ptr << 32) | len
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.const 9))))
)
