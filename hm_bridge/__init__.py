from hm_bridge import _core
