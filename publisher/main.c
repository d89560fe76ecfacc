#include <stdio.h>
int main(void);
int
main(void)
{
    fprintf(stderr, "not yet\n");
    return 1;
}
