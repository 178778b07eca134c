#include "loop.h"

__thread bool loop_thread; /* this thread runs an engine's loop */

void loop_claim(void)
{
    loop_thread = true;
}
