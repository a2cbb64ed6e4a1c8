#pragma once

namespace x2v::cli {

// False, after one line on stderr, when this CPU cannot run the instruction set the build targets.
bool cpu_runs_this_build();

}  // namespace x2v::cli
