"""Running a planned graph: the scheduler, the executor seam and its buildah implementation,
and one run from request to result."""
