/* fuzz_config.c -- fuzz harness: a YAML configuration with --set overrides through the strict
 * loader and validation, as `m4npu --config FILE --set KEY=VALUE ...` takes them.
 *
 * Input: the YAML text; if a line "#--set" occurs (a YAML comment, so every configuration file
 * is an input as it is), each line after it is one KEY=VALUE override. The text and overrides are
 * loaded as the CLI does; the overrides alone are also applied to the defaults (the CLI without
 * --config). Properties checked: a failure has a message; a loaded configuration prints as YAML
 * that loads back to the same bytes (memcmp, as the loader promises) and prints the same again;
 * it converts to JSON. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "m4npu_config.h"

#define FUZZ_SET_MARKER "#--set\n"
#define FUZZ_MAX_SETS 64

/* The configuration as YAML in a malloc'd buffer. */
static char *print_yaml(const m4npu_config *cfg, size_t *len)
{
    char *text = NULL;
    FILE *f = open_memstream(&text, len);
    FUZZ_CHECK(f != NULL, "open_memstream failed");
    int rc = m4npu_config_write_yaml(cfg, f);
    FUZZ_CHECK(fclose(f) == 0 && rc == 0, "printing a loaded configuration failed");
    return text;
}

static void check_round_trip(const m4npu_config *cfg)
{
    size_t len1 = 0, len2 = 0;
    char *yaml1 = print_yaml(cfg, &len1);
    m4npu_config *again = malloc(sizeof *again);
    m4npu_config_error err;
    FUZZ_CHECK(again != NULL, "out of memory");
    m4npu_config_status st = m4npu_config_load_text(yaml1, len1, "printed", again, &err);
    FUZZ_CHECK(st == M4NPU_CONFIG_OK, "the printed configuration does not load: %s\n%s", err.msg, yaml1);
    char *yaml2 = print_yaml(again, &len2);
    FUZZ_CHECK(len1 == len2 && memcmp(yaml1, yaml2, len1) == 0, "printing is not stable:\n%s\n---\n%s", yaml1, yaml2);
    FUZZ_CHECK(memcmp(cfg, again, sizeof *cfg) == 0, "the printed configuration loads to other values:\n%s", yaml1);
    json_t *j = m4npu_config_to_json(cfg);
    FUZZ_CHECK(j != NULL, "no JSON");
    json_decref(j);
    free(yaml1);
    free(yaml2);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 1); /* NUL-terminated, so the overrides can be split in place */
    m4npu_config *cfg = malloc(sizeof *cfg);
    FUZZ_CHECK(buf && cfg, "out of memory");
    memcpy(buf, data, size);
    buf[size] = '\0';
    size_t yaml_len = size;
    const char *sets[FUZZ_MAX_SETS];
    size_t nsets = 0;
    char *marker = strstr(buf, FUZZ_SET_MARKER); /* (before a NUL byte, if the input has one) */
    if (marker) {
        yaml_len = (size_t)(marker - buf);
        char *line = marker + strlen(FUZZ_SET_MARKER);
        while (*line && nsets < FUZZ_MAX_SETS) {
            char *nl = strchr(line, '\n');
            if (nl)
                *nl = '\0';
            sets[nsets++] = line;
            if (!nl)
                break;
            line = nl + 1;
        }
    }
    m4npu_config_error err;
    m4npu_config_status st = m4npu_config_load_text_overrides(buf, yaml_len, "fuzz.yaml", sets, nsets, cfg, &err);
    if (st == M4NPU_CONFIG_OK)
        check_round_trip(cfg);
    else
        FUZZ_CHECK(err.msg[0] != '\0', "status %d without a message", (int)st);

    /* no --config: the defaults, then each override, then the checks */
    m4npu_config_defaults(cfg);
    st = M4NPU_CONFIG_OK;
    for (size_t i = 0; i < nsets && st == M4NPU_CONFIG_OK; i++)
        st = m4npu_config_set_assignment(cfg, sets[i], &err);
    if (st == M4NPU_CONFIG_OK)
        st = m4npu_config_validate(cfg, &err);
    if (st == M4NPU_CONFIG_OK)
        check_round_trip(cfg);
    else
        FUZZ_CHECK(err.msg[0] != '\0', "status %d without a message", (int)st);
    free(cfg);
    free(buf);
    return 0;
}
