/*
 * version.h: the version of xckpt.
 */
#pragma once

/* The xckpt version, as `xckpt --version` prints it and checkpoint metadata
 * records it. */
#define XCKPT_VERSION "0.1.0"
