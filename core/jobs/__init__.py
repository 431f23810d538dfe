"""Background jobs: the manager, where jobs run (executors), trainings as jobs, sweeps."""
