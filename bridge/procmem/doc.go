// Package procmem trims what the running process keeps mapped. Start-up (package
// initialisation, configuration, migrations, CEL compilation, template parsing) touches most
// of the binary's code and read-only data once; the kernel maps those pages, and many around
// them, into the process and counts them in its resident set for as long as it runs. After
// start-up, ReleaseStartupPages unmaps them again, as the Linux kernel frees its own __init
// sections after boot: the pages stay in the page cache, and any the process still needs come
// back on first use (a minor fault). Only read-only mappings of the executable that hold no
// private (anonymous) page are touched, so nothing written at run time, such as a relocated
// read-only-after-relocation segment of a position-independent build, is ever discarded.
package procmem
