// scratch.cu - ride_cuda_scratch for the device entry points: the buffers and their
// growth are in cuda_common.cuh, which every kernel shares.
#include "cuda_common.cuh"

#include <new>

extern "C" ride_cuda_scratch *ride_cuda_scratch_new(void)
{
    ride_cuda_scratch *scratch = new (std::nothrow) ride_cuda_scratch;
    if (scratch && !ride_cuda::bind_scratch(*scratch)) {
        delete scratch;
        return nullptr;
    }
    return scratch;
}

extern "C" void ride_cuda_scratch_free(ride_cuda_scratch *scratch)
{
    delete scratch;
}
