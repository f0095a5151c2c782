# Enter the gr00t_ros environment:  source env.sh
# (after ./scripts/setup.sh). Activates .venv and the colcon workspace in install/.
_gr00t_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")" && pwd)"
if [ ! -f "$_gr00t_root/install/setup.bash" ]; then
  echo "env.sh: run $_gr00t_root/scripts/setup.sh first" >&2
  return 1 2>/dev/null || exit 1
fi
# shellcheck disable=SC1091
source "$_gr00t_root/.venv/bin/activate"
# The ROS wheels keep their ament index in the venv prefix.
case ":${AMENT_PREFIX_PATH:-}:" in
  *":$_gr00t_root/.venv:"*) ;;
  *) export AMENT_PREFIX_PATH="$_gr00t_root/.venv${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}" ;;
esac
# shellcheck disable=SC1091
source "$_gr00t_root/install/setup.bash"
# Offscreen rendering for the simulator (no display): EGL, unless the caller chose.
export MUJOCO_GL="${MUJOCO_GL:-egl}"
# Fast DDS is the only RMW the wheels ship.
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
export GR00T_ROS_ROOT="$_gr00t_root"
unset _gr00t_root
