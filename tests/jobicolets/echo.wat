;; echo: a ver 0 (TinyGo style) Jobicolet that returns code 0 and a copy of
;; its input. It also exports `_start`, which sets a flag, and `init` traps
;; unless that flag is set: it proves that the host calls `_start` before
;; `init`.
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
  ;; ver 0: free(ptr).
  (func (export "free") (param $ptr i32))

  (global $started (mut i32) (i32.const 0))
  (func (export "_start")
    (global.set $started (i32.const 1)))
  (func (export "init")
    (if (i32.eqz (global.get $started))
      (then unreachable)))
  (func (export "ver") (result i32) (i32.const 0))

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $out i32)
    (local.set $out (call $malloc (local.get $inLen)))
    (memory.copy (local.get $out) (local.get $inPtr) (local.get $inLen))
    (i64.store (local.get $retptr) (i64.const 0))
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.extend_i32_u (local.get $inLen)))))
)
