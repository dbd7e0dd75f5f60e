"""Pure planning: the image graph, the wheel set, cache keys, and one frozen plan per node
(base, requirements, service, child), with the reason a node is built or reused. No I/O."""
