/* config-doc: print docs/configs.md, the configuration reference generated from the schema.
 * Usage: build/bin/config-doc > docs/configs.md */
#include "m4npu_config.h"

int main(void)
{
    m4npu_config_doc_write(stdout);
    return fflush(stdout) == 0 ? 0 : 1;
}
