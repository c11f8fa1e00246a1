// The resolved LiteRT C API: one table of function pointers, filled once.
// This is the only place in edgerun that knows how libLiteRt.so is found.
#pragma once

#include <string>

#include "edgerun/runtime.h"
#include "edgerun/status.h"
#include "litert/litert_c_api.h"

namespace edgerun {
namespace runtime {

struct LiteRtApi {
#define EDGERUN_DECLARE_FN(ret, name, args) ret(*name) args = nullptr;
  EDGERUN_LITERT_FUNCTIONS(EDGERUN_DECLARE_FN)
  EDGERUN_LITERT_OPTIONAL_FUNCTIONS(EDGERUN_DECLARE_FN)  // nullptr when not exported
#undef EDGERUN_DECLARE_FN
};

// The loaded API, or an error saying that LoadLiteRt has not succeeded.
Expected<const LiteRtApi*> Api();

// The dlopen handle of the loaded libLiteRt.so (nullptr before a successful
// load), for optional symbols that are not in the function table.
void* LiteRtLibraryHandle();

// Text for a LiteRtStatus number (the library exports no such function).
std::string LiteRtStatusName(int status);

}  // namespace runtime
}  // namespace edgerun
