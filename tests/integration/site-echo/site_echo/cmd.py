"""site-echo: print the greeting its configuration names."""

import sys

from oslo_config import cfg

from site_echo.opts import OPTS


def main() -> int:
    conf = cfg.ConfigOpts()
    conf.register_opts(OPTS)
    conf(sys.argv[1:], project="site-echo", default_config_files=[])
    with open(conf.greeting_file, encoding="utf-8") as handle:
        print(handle.read().strip())
    return 0
