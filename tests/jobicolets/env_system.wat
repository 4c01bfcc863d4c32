;; env_system: a ver 0 Jobicolet that imports env.system, which the Jobicolet
;; host does not provide (of `env` it gives only `log`). Uploading it is
;; refused and instantiating it fails, both naming the import. Its `event`
;; would return code 0 and "unreachable" without calling the import.
(module
  (import "env" "log" (func $log (param i32 i32 i32)))
  (import "env" "system" (func $system (param i32 i32) (result i32)))

  (memory (export "memory") 1)
  (data (i32.const 16) "unreachable")
  (global $heap (mut i32) (i32.const 1024))
  (func (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 7))
        (i32.const -8)))
    (local.get $ptr))
  (func (export "free") (param $ptr i32))
  (func (export "init"))

  (func (export "event") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (i64.store (local.get $retptr) (i64.const 0))
    (i64.store offset=8 (local.get $retptr)
      (i64.or (i64.shl (i64.const 16) (i64.const 32)) (i64.const 11))))
)
