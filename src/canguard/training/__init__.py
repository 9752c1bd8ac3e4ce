"""Training: the Fabric engine, its configuration, checkpoints, the tuner and the profiler."""
