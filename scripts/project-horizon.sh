#!/bin/bash
# Horizon: enable the default local settings, then compile translations, collect and compress
# static files, as the dashboard expects them at runtime.
# Inputs: VENV.
set -euo pipefail

: "${VENV:?}"
site=$("$VENV/bin/python" -c 'import openstack_dashboard, os; print(os.path.dirname(os.path.dirname(openstack_dashboard.__file__)))')
local_dir="$site/openstack_dashboard/local"
if [ ! -e "$local_dir/local_settings.py" ]; then
    cp "$local_dir/local_settings.py.example" "$local_dir/local_settings.py"
fi
export DJANGO_SETTINGS_MODULE=openstack_dashboard.settings
for app in horizon openstack_dashboard; do
    (cd "$site/$app" && "$VENV/bin/django-admin" compilemessages)
done
"$VENV/bin/django-admin" collectstatic --noinput --clear >/dev/null
"$VENV/bin/django-admin" compress --force
echo "static files: $(find "$site/static" -type f 2>/dev/null | wc -l)"
