// The same program as c_abi_program.c, compiled as C++ (-std=c++11
// -pedantic -Werror): agentbudget.h must be valid C++ as well as C99.
#include "c_abi_program.c"
