"""Support for eventapp's own tests and benchmarks (real servers, factories). Not used at run time."""
