;; bulk_bomb: a ver 1 (Rust style) Jobicolet whose main functions loop
;; forever over bulk memory and table instructions, each of which does a
;; lot of work in ONE instruction. Only fuel charged by length stops them
;; (an instruction count alone would let each run for minutes):
;;
;; - `fill`: `memory.fill` of 100 MiB, forever.
;; - `copy`: `memory.copy` of 50 MiB, forever.
;; - `table_fill`: `table.fill` of 200,000 table entries, forever.
;; - `table_copy`: `table.copy` of 200,000 table entries, forever.
;; - `table_grow`: `table.grow` of a second table by 100,000 entries at a
;;   time until it fails, then forever again from the start.
(module
  (memory (export "memory") 1601)
  (table $t 200000 200000 funcref)
  (table $g 0 funcref)

  (global $heap (mut i32) (i32.const 1024))
  (func $malloc (export "malloc") (param $size i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap
      (i32.and (i32.add (i32.add (local.get $ptr) (local.get $size)) (i32.const 7))
        (i32.const -8)))
    (local.get $ptr))
  (func (export "free") (param $ptr i32) (param $size i32))
  (func (export "init"))
  (func (export "ver") (result i32) (i32.const 1))
  (elem declare func $malloc)

  (func (export "fill") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (loop $l
      (memory.fill (i32.const 65536) (i32.const 7) (i32.const 104857600))
      (br $l)))
  (func (export "copy") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (loop $l
      (memory.copy (i32.const 65536) (i32.const 52494336) (i32.const 52428800))
      (br $l)))
  (func (export "table_fill") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (loop $l
      (table.fill $t (i32.const 0) (ref.func $malloc) (i32.const 200000))
      (br $l)))
  (func (export "table_copy") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (loop $l
      (table.copy $t $t (i32.const 0) (i32.const 0) (i32.const 200000))
      (br $l)))
  (func (export "table_grow") (param $retptr i32) (param $inPtr i32) (param $inLen i32)
    (loop $l
      (drop (table.grow $g (ref.null func) (i32.const 100000)))
      (br $l)))
)
