/*
 * Fault results (PROTOCOL.md `fault`): an assertion that failed, and the board's reports of a
 * HardFault or an exhausted instruction budget. Each names the event being run, ends any line the
 * fault interrupted, and exits with EXIT_FAULT.
 */
#include "interp/fault.h"

#include "board_reports.h"
#include "interp/interp.h"
#include "interp/report.h"
#include "platform.h"

static void begin_fault(const char *kind) {
    report_abandon();
    report_begin("fault");
    report_u32("ev", interp_current_event());
    report_string("kind", kind);
}

void heaprig_assert_failed(const char *file, int line, const char *expression) {
    begin_fault("assert");
    report_string("file", file);
    report_u32("line", (uint32_t)line);
    report_string("expr", expression);
    report_end();
    platform_exit(EXIT_FAULT);
}

void heaprig_report_hardfault(const fault_frame_t *frame, const fault_status_t *status) {
    begin_fault("hardfault");
    report_u32("pc", frame->pc);
    report_u32("lr", frame->lr);
    report_u32("sp", status->sp);
    report_u32("cfsr", status->cfsr);
    report_u32("hfsr", status->hfsr);
    report_u32("mmfar", status->mmfar);
    report_u32("bfar", status->bfar);
    report_end();
    platform_exit(EXIT_FAULT);
}

void heaprig_report_budget_exhausted(uint64_t instructions) {
    begin_fault("budget");
    report_u64("instructions", instructions);
    report_end();
    platform_exit(EXIT_FAULT);
}
