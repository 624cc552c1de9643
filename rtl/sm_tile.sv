// sm_tile.sv -- the softmax tile: row softmax of int8 rows into int8 Q0.7, LANES elements per
// cycle, rows up to MAX_LEN elements, with an optional causal mask.
//
// Why it exists: it is the hardware whose results the C functional model (isa_sm_row in
// isa/isa_exec.c) specifies bit for bit, and whose cycle counts rtl/tile_cycles.h states. The
// arithmetic is exactly that model's:
//   mx = max of the row's unmasked elements;  u = (x - mx) * scale  (scale in Q4.12)
//   e  = exp2(u / 4096) in Q1.14 (sm_exp2.sv): u >>> 12 is a right shift of 2^(frac) taken from
//        a 33-entry table of 2^(i/32) with linear interpolation over u's low 7 bits
//   sum of e;  recip = floor(2^40 / sum) by a restoring divider, one quotient bit per cycle
//   y  = min(127, (e * recip + 2^32) >> 33);  masked elements are excluded and written 0.
// Each row takes four phases (rtl/README.md has the cycle-by-cycle schedule), B = ceil(len/LANES):
//   IN   B cycles: accept the row's beats, keep them in the row buffer, running max
//   SUM  B+3 cycles: read / scale / exp2 pipeline (3 stages) into the sum
//   DIV  41 cycles: the reciprocal
//   OUT  B+3 cycles: the same pipeline, normalising into the result port
// so a row takes 3B + 47 cycles and an instruction 1 + rows * (3B + 47) (tile_sm_cycles()).
// Masked elements stream through like any other. The input waits for in_valid and the OUT
// pipeline stops while out_ready is low, without changing results.
module sm_tile #(
    parameter int LANES   = 4,
    parameter int MAX_LEN = 512   // longest row (the row buffer's size); at most 16383
) (
    input  logic        clk,
    input  logic        rst,          // synchronous, active high
    // command (accepted when cmd_ready: the tile is idle)
    input  logic        cmd_valid,
    output logic        cmd_ready,
    input  logic [13:0] cmd_len,
    input  logic [11:0] cmd_rows,
    input  logic [15:0] cmd_scale,    // Q4.12: s * log2(e)
    input  logic        cmd_mask,     // causal: element j of row r is masked when j > r + moff
    input  logic [15:0] cmd_moff,     // two's complement
    // input beats: lanes of the current row, element beat*LANES + lane (beyond len: ignored)
    input  logic        in_valid,
    output logic        in_ready,
    input  logic [7:0]  in_x [LANES],
    // result beats, in the same layout (beyond len: 0)
    output logic        out_valid,
    input  logic        out_ready,
    output logic [7:0]  out_y [LANES],
    output logic        out_row_last, // the row's last beat
    output logic        out_last,     // the instruction's last beat
    output logic        busy,
    output logic        cmd_error     // the last command had len = 0, len > MAX_LEN or rows = 0
);
    localparam int BW    = 14;                                // beat and element counters
    localparam int DEPTH = (MAX_LEN + LANES - 1) / LANES;     // row buffer entries (beats)
    localparam int AW    = DEPTH > 1 ? $clog2(DEPTH) : 1;
    localparam int UW    = 26;                                // (x - mx) * scale, signed
    localparam int EW    = 15;                                // exp2 result, Q1.14 <= 16384
    localparam int SUMW  = 32;
    localparam int QW    = 41;                                // quotient bits of 2^40 / sum
    localparam int DIV_LAST = QW - 1;
    localparam int OUT_SHIFT = 33;                            // 40 - 7: Q0.7 output

    if (LANES < 1 || MAX_LEN < 1 || MAX_LEN > 16383) begin : g_bad_params
        $error("sm_tile: need LANES >= 1 and 1 <= MAX_LEN <= 16383");
    end

    typedef enum logic [1:0] { PH_IN, PH_SUM, PH_DIV, PH_OUT } phase_t;

    // ---------------------------------------------------------------- command and row state
    logic [BW-1:0]  len_q, beats_q;
    logic [11:0]    rows_q, row_q;
    logic [15:0]    scale_q, moff_q;
    logic           mask_q;
    phase_t         phase_q;

    logic cmd_bad;
    localparam bit LEN_CAPPED = MAX_LEN < 16383;   // else every 14-bit len fits
    assign cmd_bad   = cmd_len == 0 || (LEN_CAPPED && 32'(cmd_len) > MAX_LEN) || cmd_rows == 0;
    assign cmd_ready = !busy;

    // Unmasked elements of the current row: j < nvalid.
    logic signed [19:0] last_j;
    logic [BW-1:0]      nvalid;
    assign last_j = mask_q ? $signed({8'd0, row_q}) + 20'(signed'(moff_q))
                           : $signed({6'd0, len_q}) - 20'sd1;
    assign nvalid = last_j < 0 ? '0
                  : last_j >= $signed({6'd0, len_q}) ? len_q : BW'(last_j + 20'sd1);

    // ---------------------------------------------------------------- IN: beats and running max
    logic [BW-1:0]          in_cnt_q;          // beat index in IN, read index in SUM/OUT
    logic signed [7:0]      mx_q, beat_max;
    logic [8*LANES-1:0]     beat_packed;
    logic [8*LANES-1:0]     rowbuf [DEPTH];
    logic                   in_fire;

    assign in_ready = busy && phase_q == PH_IN;
    assign in_fire  = in_ready && in_valid;

    always_comb begin
        beat_max = mx_q;
        for (int l = 0; l < LANES; l++) begin
            beat_packed[8*l +: 8] = in_x[l];
            if (32'(in_cnt_q) * LANES + l < 32'(nvalid) && $signed(in_x[l]) > beat_max)
                beat_max = $signed(in_x[l]);
        end
    end

    // ---------------------------------------------------------------- SUM/OUT pipeline
    // R: the row buffer read; M: u = (x - mx) * scale; X: e = exp2 (0 for masked lanes).
    logic                 r_v_q, m_v_q, x_v_q;
    logic [BW-1:0]        r_beat_q, m_beat_q, x_beat_q;
    logic [8*LANES-1:0]   r_data_q;
    logic [UW*LANES-1:0]  m_u_q;
    logic [LANES-1:0]     m_ok_q;
    logic [EW*LANES-1:0]  x_e_q;
    logic [UW*LANES-1:0]  m_u_next;
    logic [LANES-1:0]     m_ok_next;
    logic [EW*LANES-1:0]  x_e_next;
    logic [SUMW-1:0]      sum_q, beat_sum;
    logic [QW-1:0]        recip_q;
    logic                 piped, pipe_en, rd_more, x_last;

    assign piped   = busy && (phase_q == PH_SUM || phase_q == PH_OUT);
    assign pipe_en = piped && !(phase_q == PH_OUT && x_v_q && !out_ready);
    assign rd_more = in_cnt_q < beats_q;
    assign x_last  = x_v_q && x_beat_q == beats_q - 1;

    logic [EW-1:0] lane_e [LANES];
    for (genvar l = 0; l < LANES; l++) begin : g_exp2
        sm_exp2 #(.UW(UW)) exp2 (.u(m_u_q[UW*l +: UW]), .e(lane_e[l]));
    end

    always_comb begin
        beat_sum = '0;
        for (int l = 0; l < LANES; l++) begin
            m_u_next[UW*l +: UW] = (UW'($signed(r_data_q[8*l +: 8])) - UW'(mx_q))
                                   * UW'($signed({1'b0, scale_q}));
            m_ok_next[l]         = 32'(r_beat_q) * LANES + l < 32'(nvalid);
            x_e_next[EW*l +: EW] = m_ok_q[l] ? lane_e[l] : '0;
            beat_sum             = beat_sum + SUMW'(x_e_q[EW*l +: EW]);
        end
    end

    // OUT: y = min(127, (e * recip + 2^32) >> 33); masked lanes have e = 0 and so give 0.
    for (genvar l = 0; l < LANES; l++) begin : g_norm
        logic [QW+EW-1:0] prod;
        logic [QW+EW:0]   rounded;
        logic [QW+EW:0]   q;
        assign prod     = (QW+EW)'(x_e_q[EW*l +: EW]) * (QW+EW)'(recip_q);
        assign rounded  = {1'b0, prod} + (QW+EW+1)'(64'd1 << (OUT_SHIFT - 1));
        assign q        = rounded >> OUT_SHIFT;
        assign out_y[l] = q > 127 ? 8'd127 : 8'(q);
    end
    assign out_valid    = busy && phase_q == PH_OUT && x_v_q;
    assign out_row_last = out_valid && x_last;
    assign out_last     = out_row_last && row_q == rows_q - 1;

    // ---------------------------------------------------------------- DIV: floor(2^40 / sum)
    logic [5:0]      div_cnt_q;
    logic [SUMW-1:0] rem_q;
    logic [SUMW:0]   rem_shifted;
    logic            q_bit;
    assign rem_shifted = {rem_q, div_cnt_q == 0};   // the dividend 2^40: a 1, then 40 zeros
    assign q_bit       = rem_shifted >= {1'b0, sum_q};

    // ---------------------------------------------------------------- sequencing
    always_ff @(posedge clk) begin
        if (rst) begin
            busy <= 1'b0;
            cmd_error <= 1'b0;
            phase_q <= PH_IN;
            len_q <= '0; beats_q <= '0; rows_q <= '0; row_q <= '0;
            scale_q <= '0; moff_q <= '0; mask_q <= 1'b0;
            in_cnt_q <= '0; mx_q <= -8'sd128; sum_q <= '0; recip_q <= '0;
            div_cnt_q <= '0; rem_q <= '0;
            r_v_q <= 1'b0; m_v_q <= 1'b0; x_v_q <= 1'b0;
            r_beat_q <= '0; m_beat_q <= '0; x_beat_q <= '0;
            r_data_q <= '0; m_u_q <= '0; m_ok_q <= '0; x_e_q <= '0;
        end else if (!busy) begin
            if (cmd_valid) begin
                cmd_error <= cmd_bad;
                if (!cmd_bad) begin
                    busy     <= 1'b1;
                    phase_q  <= PH_IN;
                    len_q    <= cmd_len;
                    beats_q  <= BW'((32'(cmd_len) + LANES - 1) / LANES);
                    rows_q   <= cmd_rows;
                    row_q    <= '0;
                    scale_q  <= cmd_scale;
                    mask_q   <= cmd_mask;
                    moff_q   <= cmd_moff;
                    in_cnt_q <= '0;
                    mx_q     <= -8'sd128;
                    sum_q    <= '0;
                end
            end
        end else begin
            case (phase_q)
                PH_IN: if (in_fire) begin
                    rowbuf[AW'(in_cnt_q)] <= beat_packed;
                    mx_q <= beat_max;
                    if (in_cnt_q == beats_q - 1) begin
                        phase_q  <= PH_SUM;
                        in_cnt_q <= '0;
                    end else
                        in_cnt_q <= in_cnt_q + 1;
                end
                PH_DIV: begin
                    rem_q     <= q_bit ? SUMW'(rem_shifted - {1'b0, sum_q}) : SUMW'(rem_shifted);
                    recip_q   <= {recip_q[QW-2:0], q_bit};
                    div_cnt_q <= div_cnt_q + 1;
                    if (32'(div_cnt_q) == DIV_LAST) begin
                        phase_q  <= PH_OUT;
                        in_cnt_q <= '0;
                    end
                end
                default: if (pipe_en) begin   // PH_SUM, PH_OUT
                    r_v_q    <= rd_more;
                    r_beat_q <= in_cnt_q;
                    if (rd_more) begin
                        r_data_q <= rowbuf[AW'(in_cnt_q)];
                        in_cnt_q <= in_cnt_q + 1;
                    end
                    m_v_q    <= r_v_q;
                    m_beat_q <= r_beat_q;
                    m_u_q    <= m_u_next;
                    m_ok_q   <= m_ok_next;
                    x_v_q    <= m_v_q;
                    x_beat_q <= m_beat_q;
                    x_e_q    <= x_e_next;
                    if (phase_q == PH_SUM) begin
                        if (x_v_q)
                            sum_q <= sum_q + beat_sum;
                        if (x_last) begin
                            phase_q   <= PH_DIV;
                            div_cnt_q <= '0;
                            rem_q     <= '0;
                            recip_q   <= '0;
                        end
                    end else if (x_last) begin   // PH_OUT: the row's last beat leaves now
                        if (row_q == rows_q - 1)
                            busy <= 1'b0;
                        else begin
                            row_q    <= row_q + 1;
                            phase_q  <= PH_IN;
                            in_cnt_q <= '0;
                            mx_q     <= -8'sd128;
                            sum_q    <= '0;
                        end
                    end
                end
            endcase
        end
    end
endmodule
