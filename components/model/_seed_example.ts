/** For tests. */

/** The "### Example" of the seed's "# Job Definition" section, verbatim. */
export const SEED_EXAMPLE = `name: test
id: test
tenant: m1 
queues:
  - id: queue
    name: queue
jobs:
  - event:
      name: an event
      id: ev1
      datatype: 0
      schema:
        id: schema
        name: the schema
        schemaref: schema.json
      supplierqueue: queue
      runtime: runtime1
    result:
      ok:
        name: ev1_ok
        id: ev1_ok
        datatype: 0
        schema:
          id: sche1
          name: sche1
          schemaref: schema.json
        supplierqueue: queue1
        runtime: runtime1
      error:
        name: ev1_err
        id: ev1_err
        datatype: 0
        schema:
          id: sche1
          name: sche1
          schemaref: schema.json
        supplierqueue: queue1
        runtime: runtime1

runtimes:
  - id: runtime1
    name: greet.wasm
    moduleref: greet.wasm
    mainfuncname: event
    type: 0

`;
