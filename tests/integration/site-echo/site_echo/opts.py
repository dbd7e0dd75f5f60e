"""site-echo's options: one names a file of /etc/site-echo, which the runtime check finds."""

from oslo_config import cfg

OPTS = [cfg.StrOpt("greeting_file", default="/etc/site-echo/greeting.txt")]


def list_opts():
    return [("DEFAULT", OPTS)]
