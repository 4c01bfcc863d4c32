;; memory_bomb: a ver 1 (Rust style) Jobicolet whose main function grows its
;; memory 16 pages (1 MiB) at a time, forever: it declares no maximum and
;; traps if `memory.grow` returns -1. Only a memory limit stops it early
;; (a metered module traps in the grow, with the limit global set to 1);
;; without one it runs until the engine refuses to grow (4 GiB).
(module
  (import "env" "log" (func $log (param i32 i32 i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "growing")

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
  (func (export "free") (param $ptr i32) (param $size i32))

  (func (export "init"))
  (func (export "ver") (result i32) (i32.const 1))

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (call $log (i32.const 1) (i32.const 16) (i32.const 7))
    (loop $more
      (if (i32.eq (memory.grow (i32.const 16)) (i32.const -1))
        (then unreachable))
      (br $more)))
)
