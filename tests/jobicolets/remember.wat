;; remember: a ver 1 (Rust style) Jobicolet with state: each call returns
;; the input of the call before it on the same instance (empty on a fresh
;; instance), then keeps its own input (up to 4 KiB) for the next call.
;; It shows what survives between executions, and to whom.
(module
  ;; 1024..5120: the kept input; 0..4: its length; the heap from 8192.
  (memory (export "memory") 1)

  (global $heap (mut i32) (i32.const 8192))
  (func $malloc (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 7))
        (i32.const -8)))
    (if (i32.gt_u (global.get $heap) (i32.shl (memory.size) (i32.const 16)))
      (then (drop (memory.grow (i32.const 1)))))
    (local.get $ptr))
  ;; Frees everything at once: the heap restarts after each call's frees.
  (func (export "free") (param $ptr i32) (param $size i32)
    (global.set $heap (i32.const 8192)))
  (func (export "init"))
  (func (export "ver") (result i32) (i32.const 1))

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (local $out i32)
    (local $len i32)
    (local.set $len (i32.load (i32.const 0)))
    (local.set $out (call $malloc (local.get $len)))
    (memory.copy (local.get $out) (i32.const 1024) (local.get $len))
    (if (i32.gt_u (local.get $inLen) (i32.const 4096))
      (then (local.set $inLen (i32.const 4096))))
    (memory.copy (i32.const 1024) (local.get $inPtr) (local.get $inLen))
    (i32.store (i32.const 0) (local.get $inLen))
    (i64.store (local.get $retptr) (i64.const 0))
    (i64.store offset=8 (local.get $retptr)
      (i64.or
        (i64.shl (i64.extend_i32_u (local.get $out)) (i64.const 32))
        (i64.extend_i32_u (local.get $len)))))
)
