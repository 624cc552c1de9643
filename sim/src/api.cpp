// api.cpp -- the C API of the simulated NPU (sim/include/npu_sim.h). Exceptions never cross it:
// every entry point catches and turns them into an error return.
#include "device.h"

#include <cstdio>
#include <cstring>

extern "C" {
#include "npu_sim.h"
}

using m4npu::Device;
using m4npu::device_instance;

struct npu_sim {
    Device *dev;
};

namespace {
npu_sim g_handle; // the one open device of this process (SystemC elaborates once)

void set_err(char *err, size_t errlen, const char *msg)
{
    if (err && errlen)
        std::snprintf(err, errlen, "%s", msg);
}

bool quiet_systemc()
{
    // SystemC reports its own infos and warnings on stdout; the CLI's stdout is for results.
    sc_core::sc_report_handler::set_actions(sc_core::SC_INFO, sc_core::SC_DO_NOTHING);
    sc_core::sc_report_handler::set_actions(sc_core::SC_WARNING, sc_core::SC_DO_NOTHING);
    return true;
}
} // namespace

// libsystemc defines main() and calls sc_main(); our programs have their own main, but the
// symbol must exist for the library to link.
extern "C" int sc_main(int, char **) { return 0; }

extern "C" {

npu_sim *npu_sim_open(const npu_device_config *cfg, char *err, size_t errlen)
{
    try {
        static bool quiet = quiet_systemc();
        (void)quiet;
        Device &dev = device_instance();
        std::string msg;
        if (!dev.open(*cfg, msg)) {
            set_err(err, errlen, msg.c_str());
            return nullptr;
        }
        g_handle.dev = &dev;
        return &g_handle;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "internal error in the SystemC model");
    }
    return nullptr;
}

void npu_sim_close(npu_sim *s)
{
    if (!s)
        return;
    try {
        s->dev->close();
    } catch (...) {
    }
}

const npu_device_config *npu_sim_config(const npu_sim *s) { return &s->dev->config(); }

uint32_t npu_sim_mmio_read(npu_sim *s, uint32_t offset)
{
    try {
        return s->dev->mmio_read(offset);
    } catch (...) {
        return 0;
    }
}

void npu_sim_mmio_write(npu_sim *s, uint32_t offset, uint32_t value)
{
    try {
        s->dev->mmio_write(offset, value);
    } catch (...) {
    }
}

int npu_sim_mem_write(npu_sim *s, uint64_t addr, const void *src, uint64_t len)
{
    return s->dev->mem_write(addr, src, len);
}

int npu_sim_mem_read(npu_sim *s, uint64_t addr, void *dst, uint64_t len)
{
    return s->dev->mem_read(addr, dst, len);
}

void npu_sim_set_insn_hook(npu_sim *s, npu_sim_insn_hook hook, void *ctx) { s->dev->set_insn_hook(hook, ctx); }
uint64_t npu_sim_dram_size(const npu_sim *s) { return s->dev->dram_size(); }
uint64_t npu_sim_onchip_bytes(const npu_sim *s) { return s->dev->onchip_bytes(); }

int npu_sim_run(npu_sim *s, uint64_t max_cycles)
{
    try {
        return s->dev->run(max_cycles) ? 1 : 0;
    } catch (...) {
        return -1;
    }
}

int npu_sim_irq(const npu_sim *s) { return s->dev->irq() ? 1 : 0; }
uint64_t npu_sim_cycles(const npu_sim *s) { return s->dev->now_cycles(); }

int npu_sim_trace_vcd(npu_sim *s, const char *mm_path, const char *sm_path, char *err, size_t errlen)
{
    try {
        std::string msg;
        int st = s->dev->trace_vcd(mm_path, sm_path, msg);
        if (st != NPU_SIM_OK)
            set_err(err, errlen, msg.c_str());
        return st;
    } catch (const std::exception &e) {
        set_err(err, errlen, e.what());
    } catch (...) {
        set_err(err, errlen, "internal error in the SystemC model");
    }
    return NPU_SIM_E_IO;
}

uint64_t npu_sim_fast_cycles(const isa_insn *in, const npu_device_config *cfg)
{
    return m4npu::fast_cycles(*in, *cfg);
}

const char *npu_sim_rtl_matmul_sizes(void) { return MmTileRtl::compiled_sizes(); }
const char *npu_sim_rtl_softmax_sizes(void) { return SmTileRtl::compiled_sizes(); }

} // extern "C"
