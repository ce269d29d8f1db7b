/* squall: the umbrella header. Include this one; it includes every module. */
#ifndef SQUALL_H
#define SQUALL_H

#include "squall/common.h"
#include "squall/version.h"
#include "squall/loop.h"
#include "squall/future.h"
#include "squall/http.h"
#include "squall/ws_codec.h"
#include "squall/websocket.h"
#include "squall/codec.h"
#include "squall/web.h"
#include "squall/testing.h"

#endif
