/* version.h - the one version number of uniond and unionctl (both print it
 * with --version, and uniond logs it at start-up). Change it here only. */
#ifndef UNIOND_VERSION_H
#define UNIOND_VERSION_H

#define UNIOND_VERSION "0.1.0"

#endif
