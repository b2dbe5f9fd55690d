/* Prints every rejection reason name, one per line (for the docs check). */
#include "sw_event.h"

#include <stdio.h>

int main(void)
{
    for (int r = 1; r < SW_REASON__COUNT; r++)
        puts(sw_reason_name((sw_reason_t)r));
    for (int t = 0; t < SW_TYPE__COUNT; t++)
        printf("type:%s\n", sw_event_type_name((sw_event_type_t)t));
    for (int f = 0; f < SW_F__COUNT; f++)
        printf("field:%s\n", sw_field_name((sw_field_t)f));
    return 0;
}
