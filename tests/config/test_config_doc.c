/* docs/configs.md must be exactly what the schema generates: the page and the loader never
 * disagree about a key, its unit or its range. */
#include "config_test_util.h"

static void test_reference_page_matches_schema(void **state)
{
    (void)state;
    char *generated = NULL;
    size_t glen = 0;
    FILE *mem = open_memstream(&generated, &glen);
    assert_non_null(mem);
    m4npu_config_doc_write(mem);
    fclose(mem);

    FILE *f = fopen(M4NPU_SOURCE_DIR "/docs/configs.md", "rb");
    if (!f)
        fail_msg("docs/configs.md is missing; generate it with build/bin/config-doc > docs/configs.md");
    char *page = malloc(glen + 2);
    assert_non_null(page);
    size_t plen = fread(page, 1, glen + 1, f);
    fclose(f);
    if (plen != glen || memcmp(page, generated, glen) != 0) {
        size_t i = 0;
        while (i < plen && i < glen && page[i] == generated[i])
            i++;
        int line = 1;
        for (size_t k = 0; k < i; k++)
            line += generated[k] == '\n';
        fail_msg("docs/configs.md differs from the schema from line %d on; regenerate it with "
                 "build/bin/config-doc > docs/configs.md", line);
    }
    free(page);
    free(generated);
}

/* Every key of the schema appears in the page with its unit. */
static void test_every_key_is_documented(void **state)
{
    (void)state;
    char *page = cfgtest_read(M4NPU_SOURCE_DIR "/docs/configs.md", NULL);
    size_t keys = 0;
    for (size_t s = 0; s < m4npu_config_section_count(); s++) {
        const m4npu_cfg_section *sec = m4npu_config_section_at(s);
        for (size_t i = 0; i < sec->nkeys; i++, keys++) {
            char cell[160];
            snprintf(cell, sizeof cell, "| `%s` |", sec->keys[i].path);
            if (!strstr(page, cell))
                fail_msg("%s is not in docs/configs.md", sec->keys[i].path);
            assert_non_null(sec->keys[i].doc);
            assert_true(strlen(sec->keys[i].doc) > 10);
        }
    }
    assert_true(keys >= 37 && keys <= M4NPU_CONFIG_MAX_KEYS); /* 2 top-level, 27 npu, 8 cpu today */
    free(page);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reference_page_matches_schema),
        cmocka_unit_test(test_every_key_is_documented),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
