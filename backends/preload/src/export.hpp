#pragma once
// The shim is built with -fvisibility=hidden; only the interposed libc entry points are visible (exports.map
// also hides what the static core/config/kernel libraries would otherwise export).
#define DMM_INTERPOSE extern "C" __attribute__((visibility("default")))
