/* docs/configs.md must be exactly what the schema generates: the page and the loader never
 * disagree about a key, its unit or its range. */
#include "config_test_util.h"

static void test_reference_page_matches_schema(void **state)
{
    (void)state;
    test_generated_page_matches(m4npu_config_doc_write, "docs/configs.md", "build/bin/config-doc > docs/configs.md");
}

/* Every key of the schema appears in the page with its unit. */
static void test_every_key_is_documented(void **state)
{
    (void)state;
    char *page = test_read_file(M4NPU_SOURCE_DIR "/docs/configs.md", NULL);
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
