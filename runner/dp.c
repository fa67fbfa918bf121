/* runner/dp.c — see dp.h. */
#include "runner/dp.h"

void runs_dp_grad_add(float *sum, const float *g, size_t n)
{
    for (size_t i = 0; i < n; i++)
        sum[i] += g[i];
}

void runs_dp_grad_mean(float *sum, size_t n, int count)
{
    /* a division, not a multiplication by 1/count: 1/3 is not a float, so the
     * product would be off by one more rounding */
    if (count <= 1)
        return;
    for (size_t i = 0; i < n; i++)
        sum[i] /= (float)count;
}
