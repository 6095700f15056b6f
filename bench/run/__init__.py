"""Running a suite: the generation loop, the sequential and parallel drivers, progress, estimates and splits."""
