// mm_out_stage.sv -- the matmul tile's output stage: requantisation and activation of the int32
// result rows, LANES elements per cycle, as NPUs do it next to their MAC arrays (NVDLA's SDP, the
// Edge TPU's output path) instead of on a general vector unit.
//
// Why a module of its own: it is the part of the tile whose arithmetic must equal isa_exec()'s
// mm.out / mm.cfg semantics bit for bit (isa_mm_out_apply, isa_mm_requant), and whose throughput
// (LANES) is a configuration knob of its own (npu.matmul.output_stage.lanes). mm_tile.sv
// instantiates it, feeds it one result row at a time and shows it chunk `chunk` (LANES columns)
// of that row; the stage is combinational on that path (the tile holds the row, stalled, while
// its chunks leave), so it adds cycles only when a row has more than LANES columns.
//
// Registers: the per-tensor form (mm.cfg: scale, shift) and the per-channel form (mm.out: RECS
// records of int32 bias, int32 mult, 6-bit shift; clamp bounds; a 256-entry int8 table). A load
// (mm.out) clears every record, then takes ceil(n / LANES) record beats and, with the table,
// 256 / LANES table beats (LANES entries each); records n and beyond stay zero.
// Per element (record r = its column, or its row with axis row):
//   y = x + bias_r; p = y * mult_r (64 bits); y = s ? (p >>> s) + p[s-1] : p (rounds half up);
//   y = clamp(sat8(y), lo, hi); with the table y = tab[y + 128].
// The per-tensor form is the same with bias 0, mult = scale, s = shift, bounds -128..127 and no
// table: (x * scale + 2^(s-1)) >>> s equals (p >>> s) + p[s-1].
module mm_out_stage #(
    parameter int COLS = 16,
    parameter int LANES = 16,
    parameter int RECS = 16
) (
    input  logic        clk,
    input  logic        rst,          // synchronous, active high
    // configuration (one cycle each, from the tile's command port)
    input  logic        cfg_tensor,   // mm.cfg: select the per-tensor form
    input  logic [15:0] cfg_scale,
    input  logic [5:0]  cfg_shift,
    input  logic        cfg_load,     // mm.out: clear the records, select the per-channel form
    input  logic        cfg_axis,     // 1: records index rows
    input  logic        cfg_lut,
    input  logic [7:0]  cfg_lo,
    input  logic [7:0]  cfg_hi,
    input  logic [11:0] cfg_n,        // records this load brings
    // load beats (mm.out)
    input  logic        ld_fire,      // a beat is taken this cycle
    input  logic        ld_table,     // 1: the beat carries table entries, 0: records
    input  logic [11:0] ld_beat,      // the beat's index within its kind
    input  logic [31:0] ld_bias  [LANES],
    input  logic [31:0] ld_mult  [LANES],
    input  logic [5:0]  ld_shift [LANES],
    input  logic [7:0]  ld_entry [LANES],
    // the datapath
    input  logic [31:0] x [COLS],     // the row: A x B (+ C) (+ bias), int32
    input  logic [11:0] chunk,        // which LANES columns of it
    input  logic [11:0] row,          // the row's index in the instruction (records by row)
    input  logic [11:0] n,            // columns of the instruction
    output logic [7:0]  y [LANES]
);
    localparam int TAB = 256;
    localparam int CW = 24;           // column index: chunk * LANES + lane stays below 2^24

    // ---------------------------------------------------------------- registers
    logic        per_channel_q, axis_q, lut_q;
    logic [7:0]  lo_q, hi_q;
    logic [15:0] scale_q;
    logic [5:0]  shift_q;
    logic [11:0] n_q;
    logic [31:0] rec_bias_q  [RECS];
    logic [31:0] rec_mult_q  [RECS];
    logic [5:0]  rec_shift_q [RECS];
    logic [7:0]  tab_q [TAB];

    always_ff @(posedge clk) begin
        if (rst) begin
            per_channel_q <= 1'b0; axis_q <= 1'b0; lut_q <= 1'b0;
            lo_q <= 8'h80; hi_q <= 8'h7f; scale_q <= '0; shift_q <= '0; n_q <= '0;
        end else if (cfg_tensor) begin
            per_channel_q <= 1'b0;
            scale_q       <= cfg_scale;
            shift_q       <= cfg_shift;
        end else if (cfg_load) begin
            per_channel_q <= 1'b1;
            axis_q        <= cfg_axis;
            lut_q         <= cfg_lut;
            lo_q          <= cfg_lo;
            hi_q          <= cfg_hi;
            n_q           <= cfg_n;
        end
    end

    // One always_ff per record and per table entry (Verilator 5.006 and large loops of
    // non-blocking array writes do not mix).
    for (genvar e = 0; e < RECS; e++) begin : g_rec
        localparam int BEAT = e / LANES;
        localparam int LANE = e % LANES;
        always_ff @(posedge clk) begin
            if (rst || cfg_load) begin
                rec_bias_q[e]  <= '0;
                rec_mult_q[e]  <= '0;
                rec_shift_q[e] <= '0;
            end else if (ld_fire && !ld_table && 32'(ld_beat) == BEAT && 32'(e) < 32'(n_q)) begin
                rec_bias_q[e]  <= ld_bias[LANE];
                rec_mult_q[e]  <= ld_mult[LANE];
                rec_shift_q[e] <= ld_shift[LANE];
            end
        end
    end
    for (genvar t = 0; t < TAB; t++) begin : g_tab
        localparam int BEAT = t / LANES;
        localparam int LANE = t % LANES;
        always_ff @(posedge clk) begin
            if (rst)
                tab_q[t] <= '0;
            else if (ld_fire && ld_table && 32'(ld_beat) == BEAT)
                tab_q[t] <= ld_entry[LANE];
        end
    end

    // ---------------------------------------------------------------- the lanes
    localparam int CI = COLS > 1 ? $clog2(COLS) : 1;  // column index bits
    localparam int RI = RECS > 1 ? $clog2(RECS) : 1;  // record index bits
    for (genvar l = 0; l < LANES; l++) begin : g_lane
        logic [CW-1:0]      col, idx;
        logic               in_cols, in_recs;
        logic signed [31:0] xv, bias, sum, mult;
        logic [5:0]         s;
        logic signed [63:0] p, q, half;
        logic signed [7:0]  sat, lo, hi, clamped;
        assign col     = CW'(chunk) * CW'(LANES) + CW'(l);
        assign idx     = axis_q ? CW'(row) : col;
        assign in_cols = col < CW'(COLS);
        assign in_recs = idx < CW'(RECS);
        assign xv   = in_cols ? $signed(x[CI'(col)]) : 32'sd0;
        assign bias = per_channel_q ? (in_recs ? $signed(rec_bias_q[RI'(idx)]) : 32'sd0) : 32'sd0;
        assign mult = per_channel_q ? (in_recs ? $signed(rec_mult_q[RI'(idx)]) : 32'sd0) : 32'(scale_q);
        assign s    = per_channel_q ? (in_recs ? rec_shift_q[RI'(idx)] : 6'd0) : shift_q;
        assign sum  = xv + bias;                        // wraps, as isa_exec's int32 add
        assign p    = 64'(sum) * 64'(mult);             // both sign-extended: |p| <= 2^62
        assign half = s == 6'd0 ? 64'sd0 : ((p >>> (s - 6'd1)) & 64'sd1);
        assign q    = (s == 6'd0 ? p : (p >>> s)) + half;
        assign sat  = q < -64'sd128 ? -8'sd128 : q > 64'sd127 ? 8'sd127 : 8'(q);
        assign lo   = per_channel_q ? $signed(lo_q) : -8'sd128;
        assign hi   = per_channel_q ? $signed(hi_q) : 8'sd127;
        assign clamped = sat < lo ? lo : sat > hi ? hi : sat;
        assign y[l] = 32'(col) >= 32'(n) ? 8'd0
                    : (per_channel_q && lut_q) ? tab_q[8'(clamped) ^ 8'h80]
                    : clamped;
    end
endmodule
