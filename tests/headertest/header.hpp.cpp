// The C++ wrapper alone, as C++17 with every warning an error (tests/CMakeLists.txt).
#include <redlock/redlock.hpp>
