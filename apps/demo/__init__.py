"""Demo and load-test data: the `demo` fleet for trying Voltop, `load-N` fleets for benchmarks.
It sits above every other app, since it builds rows of all of them through their services."""
