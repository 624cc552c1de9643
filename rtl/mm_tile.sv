// mm_tile.sv -- the matmul tile: a ROWS x COLS systolic array of mm_pe, output-stationary or
// weight-stationary per instruction, with operand types per instruction: INT8 x INT8 -> INT32
// (INT4 weights unpacked at the array's top edge), 16 x 8 (one INT16 operand) -> INT32, and
// binary16 x binary16 -> binary32 sums (an integer operand converted to binary16 at its edge).
// A 16-bit operand halves the rate: the array steps every other cycle.
//
// Why it exists: it is the hardware whose cycle counts the simulator's fast model reproduces
// (rtl/tile_cycles.h) and whose results must equal isa_exec() bit for bit. rtl/README.md has the
// cycle-by-cycle schedule; in short, after the command is accepted the array advances in
// "steps", step t being the t-th cycle after issue in which the array moves:
//   os: operand beat t (t < k) carries A[0..m-1][t] (column t of A) and B[t][0..n-1]; PE(i,j)
//       multiplies A[i][t] * B[t][j] in step t+i+j; the m result rows leave through row 0 in
//       steps k+m+n-2 .. k+2m+n-3.
//   ws: beat s (s < k) carries weight row B[k-1-s] (the weights shift down the columns, so the
//       first beat ends in row k-1); beat s >= k-1 carries A row s-(k-1). The last weight row
//       and the first A row share beat k-1. Partial sums flow down; C[i][j] leaves row k-1 of
//       column j in step 2k-2+i+j and is delayed n-1-j steps so that a whole row of C appears
//       together in step 2k+n-2+i.
// Interfaces: a command port, an operand stream and a result stream, each valid/ready. The
// array moves as a whole: a step happens when every stream it needs is ready (the operand beat
// if one is due, the result sink if a row is due), so any stall stops everything and the
// results stay correct. With no stalls the instruction takes exactly tile_mm_cycles().
// Operand types (isa/isa_table.def `mm`, enum MMT): 0 = 8-bit class (int8; B int4 with int4),
// 1 = int16, 2 = binary16. Lanes are 16 bits; an 8-bit operand is in a lane's low byte (int4: the
// packed byte j of a B row in lane j).
// The output stage (mm_out_stage.sv) adds C (acc) and mm.cfg's bias vector to every row at the
// array's width, and with rq requantises the row LANES columns per cycle: the row stays at the
// array's edge (the array stalled) for ceil(n / LANES) cycles, so rq costs m * (ceil(n / LANES) - 1)
// cycles more than the array's own schedule, and nothing when LANES >= n. The driver supplies
// C's previous row and the bias vector (SRAM reads) at the ports in_acc / in_bias.
// Commands (cmd_op): 0 mm; 1 mm.cfg (the per-tensor form: scale, shift; one cycle); 2 mm.out
// (cmd_n records then, with cmd_lut, the 256-entry table, LANES per beat on the ld_* port).
module mm_tile #(
    parameter int ROWS = 16,
    parameter int COLS = 16,
    parameter int LANES = COLS                       // output-stage elements per cycle
) (
    input  logic        clk,
    input  logic        rst,          // synchronous, active high
    // command (accepted when cmd_ready: the tile is idle)
    input  logic        cmd_valid,
    output logic        cmd_ready,
    input  logic [1:0]  cmd_op,       // 0 mm, 1 mm.cfg, 2 mm.out
    input  logic        cmd_ws,       // mm: 1 weight-stationary
    input  logic        cmd_int4,     // mm: 1 B lanes carry packed int4 (even column in the low nibble)
    input  logic [1:0]  cmd_at,       // mm: type of A: 0 int8, 1 int16, 2 binary16
    input  logic [1:0]  cmd_bt,       // mm: type of B: 0 int8 (or int4), 1 int16, 2 binary16
    input  logic        cmd_acc,      // mm: add in_acc (C's previous values; integer modes only)
    input  logic        cmd_bias,     // mm: add in_bias (mm.cfg's bias vector)
    input  logic        cmd_rq,       // mm: requantise in the output stage (results on out_q)
    input  logic [11:0] cmd_m,
    input  logic [11:0] cmd_n,        // mm: columns; mm.out: records
    input  logic [13:0] cmd_k,
    input  logic [15:0] cmd_scale,    // mm.cfg
    input  logic [5:0]  cmd_shift,    // mm.cfg
    input  logic        cmd_axis,     // mm.out: records index rows
    input  logic        cmd_lut,      // mm.out: a table follows the records
    input  logic [7:0]  cmd_lo,       // mm.out: clamp bounds (int8)
    input  logic [7:0]  cmd_hi,
    // operand beats
    input  logic        in_valid,
    output logic        in_ready,
    input  logic [15:0] in_a [ROWS],
    input  logic [15:0] in_b [COLS],
    // mm.out beats: LANES records (bias, mult, shift) or LANES table entries
    input  logic        ld_valid,
    output logic        ld_ready,
    input  logic [31:0] ld_bias  [LANES],
    input  logic [31:0] ld_mult  [LANES],
    input  logic [5:0]  ld_shift [LANES],
    input  logic [7:0]  ld_entry [LANES],
    // the output stage's other operands, for the row at the result port
    input  logic [31:0] in_acc  [COLS],
    input  logic [31:0] in_bias [COLS],
    // result rows: int32 (binary32 in the float mode) on out_c (lanes >= n are 0); with rq, ceil(n / LANES) beats of int8 on
    // out_q per row (beat q holds columns q*LANES ..; lanes past n are 0)
    output logic        out_valid,
    input  logic        out_ready,
    output logic [31:0] out_c [COLS],
    output logic [7:0]  out_q [LANES],
    output logic        out_last,     // the instruction's last result beat
    output logic        busy,
    output logic        cmd_error     // the last command was outside this tile's geometry; ignored
);
    if (ROWS < 1 || COLS < 1 || ROWS > 4095 || COLS > 4095 || LANES < 1 || LANES > 4095) begin : g_bad_params
        $error("mm_tile: need 1 <= ROWS, COLS, LANES <= 4095 (the widths of m and n)");
    end

    localparam int TW = 18;                          // step counter: k + 2m + n fits
    localparam int RW = ROWS > 1 ? $clog2(ROWS) : 1; // row index
    localparam int RECS = ROWS > COLS ? ROWS : COLS; // output-stage records
    localparam int TABLE = 256;                      // output-stage table entries
    localparam logic [1:0] OP_MM = 2'd0, OP_CFG = 2'd1, OP_OUT = 2'd2;
    localparam logic [1:0] T_I8 = 2'd0, T_I16 = 2'd1, T_F16 = 2'd2;

    // ---------------------------------------------------------------- command and step control
    logic          ws_q, int4_q, fmode_q, wide_q, phase_q;
    logic [1:0]    at_q, bt_q;
    logic [11:0]   m_q, n_q;
    logic [13:0]   k_q;
    logic [RW-1:0] krow_q;                           // ws: the array row where C leaves (k-1)
    logic [TW-1:0] t_q, beats_q, first_out_q, last_out_q;

    logic          acc_q, bias_q, rq_q;
    logic [11:0]   chunks_q, chunk_q, row_q;         // rq: beats per row, the current one; result row
    logic          loading;                          // mm.out: taking record / table beats
    logic [12:0]   ld_t_q, ld_rec_beats_q, ld_beats_q;

    logic [TW-1:0] c_m, c_n, c_k, c_beats, c_first_out;
    logic          cmd_bad, issue, issue_mm, issue_cfg, issue_out;
    assign c_m = TW'(cmd_m);
    assign c_n = TW'(cmd_n);
    assign c_k = TW'(cmd_k);
    assign c_beats     = cmd_ws ? c_k + c_m - 1 : c_k;
    assign c_first_out = cmd_ws ? 2 * c_k + c_n - 2 : c_k + c_m + c_n - 2;
    logic c_fmode;
    assign c_fmode = cmd_at == T_F16 || cmd_bt == T_F16;
    always_comb begin
        case (cmd_op)
            OP_MM:   cmd_bad = cmd_m == 0 || cmd_n == 0 || cmd_k == 0 || 32'(cmd_n) > COLS
                               || (cmd_ws ? 32'(cmd_k) > ROWS : 32'(cmd_m) > ROWS)
                               || (cmd_int4 && cmd_n[0])
                               || cmd_at > T_F16 || cmd_bt > T_F16
                               || (cmd_int4 && cmd_bt != T_I8)
                               || (cmd_at == T_I16 && cmd_bt == T_I16)
                               || (c_fmode && (cmd_at == T_I16 || cmd_bt == T_I16 || cmd_rq || cmd_bias));
            OP_CFG:  cmd_bad = 1'b0;
            OP_OUT:  cmd_bad = cmd_n == 0 || 32'(cmd_n) > RECS || $signed(cmd_lo) > $signed(cmd_hi);
            default: cmd_bad = 1'b1;
        endcase
    end
    assign cmd_ready = !busy && !loading;
    assign issue     = cmd_valid && cmd_ready && !cmd_bad;
    assign issue_mm  = issue && cmd_op == OP_MM;
    assign issue_cfg = issue && cmd_op == OP_CFG;
    assign issue_out = issue && cmd_op == OP_OUT;

    // The array advances only when the output stage takes the row at its edge: at once for int32
    // results, after the row's last LANES-wide beat with rq. go: the array and the stage may step
    // this cycle (every cycle; every other one with a 16-bit operand).
    logic in_need, out_due, step, go, chunk_last, arr_ready;
    assign go         = !wide_q || phase_q;
    assign in_need    = busy && t_q < beats_q;
    assign out_due    = busy && t_q >= first_out_q;
    assign chunk_last = !rq_q || chunk_q == chunks_q - 12'd1;
    assign arr_ready  = out_ready && chunk_last;
    assign step       = busy && go && (!in_need || in_valid) && (!out_due || arr_ready);
    assign in_ready   = busy && go && in_need && (!out_due || arr_ready);
    assign out_valid  = go && out_due && (!in_need || in_valid);
    assign out_last   = out_due && t_q == last_out_q && chunk_last;

    always_ff @(posedge clk) begin
        if (rst) begin
            busy      <= 1'b0;
            cmd_error <= 1'b0;
            ws_q <= 1'b0; int4_q <= 1'b0; m_q <= '0; n_q <= '0; k_q <= '0; krow_q <= '0;
            at_q <= T_I8; bt_q <= T_I8; fmode_q <= 1'b0; wide_q <= 1'b0; phase_q <= 1'b0;
            t_q <= '0; beats_q <= '0; first_out_q <= '0; last_out_q <= '0;
            acc_q <= 1'b0; bias_q <= 1'b0; rq_q <= 1'b0; chunks_q <= 12'd1; chunk_q <= '0; row_q <= '0;
        end else if (cmd_valid && cmd_ready) begin
            cmd_error <= cmd_bad;
            if (issue_mm) begin
                busy        <= 1'b1;
                ws_q        <= cmd_ws;
                int4_q      <= cmd_int4;
                at_q        <= cmd_at;
                bt_q        <= cmd_bt;
                fmode_q     <= c_fmode;
                wide_q      <= cmd_at != T_I8 || cmd_bt != T_I8;
                phase_q     <= 1'b0;
                acc_q       <= cmd_acc && !c_fmode;
                bias_q      <= cmd_bias;
                rq_q        <= cmd_rq;
                m_q         <= cmd_m;
                n_q         <= cmd_n;
                k_q         <= cmd_k;
                krow_q      <= RW'(cmd_k - 14'd1);
                t_q         <= '0;
                beats_q     <= c_beats;
                first_out_q <= c_first_out;
                last_out_q  <= c_first_out + c_m - 1;
                chunks_q    <= cmd_rq ? 12'((32'(cmd_n) + LANES - 1) / LANES) : 12'd1;
                chunk_q     <= '0;
                row_q       <= '0;
            end
        end else begin
            if (busy)
                phase_q <= !phase_q;
            if (out_valid && out_ready && rq_q)
                chunk_q <= chunk_last ? 12'd0 : chunk_q + 12'd1;
            if (step) begin
                t_q <= t_q + 1;
                if (out_due)
                    row_q <= row_q + 12'd1;
                if (out_due && t_q == last_out_q)
                    busy <= 1'b0;
            end
        end
    end

    // mm.out: ceil(n / LANES) record beats, then (with the table) ceil(256 / LANES) table beats.
    logic ld_fire, ld_table;
    assign ld_ready = loading;
    assign ld_fire  = ld_valid && loading;
    assign ld_table = ld_t_q >= ld_rec_beats_q;
    always_ff @(posedge clk) begin
        if (rst) begin
            loading <= 1'b0; ld_t_q <= '0; ld_rec_beats_q <= '0; ld_beats_q <= '0;
        end else if (issue_out) begin
            loading        <= 1'b1;
            ld_t_q         <= '0;
            ld_rec_beats_q <= 13'((32'(cmd_n) + LANES - 1) / LANES);
            ld_beats_q     <= 13'((32'(cmd_n) + LANES - 1) / LANES + (cmd_lut ? (TABLE + LANES - 1) / LANES : 0));
        end else if (ld_fire) begin
            ld_t_q <= ld_t_q + 13'd1;
            if (ld_t_q + 13'd1 == ld_beats_q)
                loading <= 1'b0;
        end
    end

    // ---------------------------------------------------------------- array edges
    // Which operand lanes the current beat uses (others enter as 0).
    logic a_act, b_act, load_w, drain;
    assign a_act  = in_need && (!ws_q || t_q + 1 >= TW'(k_q));
    assign b_act  = in_need && (!ws_q || t_q < TW'(k_q));
    assign load_w = ws_q && t_q < TW'(k_q);
    assign drain  = !ws_q && out_due;

    logic [15:0] edge_a [ROWS];   // into PE(r, 0), after the skew delay of r steps
    logic [15:0] edge_b [COLS];   // into PE(0, c)
    logic [15:0] pe_a   [ROWS][COLS];
    logic [15:0] pe_b   [ROWS][COLS];
    logic [31:0] pe_acc [ROWS][COLS];

    // Left edge: lane r is A[r][t] (os) or A[i][r] (ws); row r is delayed r steps (skew). An int8
    // lane is sign-extended, or in the float mode converted to binary16.
    for (genvar r = 0; r < ROWS; r++) begin : g_left
        logic [15:0] lane, val, as_f16;
        i8_to_f16 conv (.v(in_a[r][7:0]), .h(as_f16));
        assign val  = at_q != T_I8 ? in_a[r] : fmode_q ? as_f16 : {{8{in_a[r][7]}}, in_a[r][7:0]};
        assign lane = (a_act && 32'(r) < (ws_q ? 32'(k_q) : 32'(m_q))) ? val : 16'd0;
        if (r == 0) begin : g_direct
            assign edge_a[r] = lane;
        end else begin : g_skew
            tile_delay #(.WIDTH(16), .DEPTH(r)) skew (
                .clk, .clear(issue), .en(step), .din(lane), .dout(edge_a[r]));
        end
    end

    // Top edge: lane c is B[t][c] (int4: a nibble of the byte in lane c/2, sign-extended); an
    // 8-bit-class value is sign-extended, or in the float mode converted to binary16. os delays
    // column c by c steps, ws loads the weights without skew.
    for (genvar c = 0; c < COLS; c++) begin : g_top
        logic [15:0] val, lane, as_f16;
        logic [7:0]  byte_in, narrow;
        logic [3:0]  nib;
        assign byte_in = in_b[c / 2][7:0];
        assign nib     = (c % 2 == 1) ? byte_in[7:4] : byte_in[3:0];
        assign narrow  = int4_q ? {{4{nib[3]}}, nib} : in_b[c][7:0];
        i8_to_f16 conv (.v(narrow), .h(as_f16));
        assign val     = bt_q != T_I8 ? in_b[c] : fmode_q ? as_f16 : {{8{narrow[7]}}, narrow};
        assign lane    = (b_act && 32'(c) < 32'(n_q)) ? val : 16'd0;
        if (c == 0) begin : g_direct
            assign edge_b[c] = lane;
        end else begin : g_skew
            logic [15:0] skewed;
            tile_delay #(.WIDTH(16), .DEPTH(c)) skew (
                .clk, .clear(issue), .en(step), .din(ws_q ? 16'd0 : lane), .dout(skewed));
            assign edge_b[c] = ws_q ? lane : skewed;
        end
    end

    // ---------------------------------------------------------------- the PE grid
    for (genvar r = 0; r < ROWS; r++) begin : g_row
        for (genvar c = 0; c < COLS; c++) begin : g_col
            logic [15:0] a_in, b_in;
            logic [31:0] psum_in, acc_below;
            assign a_in      = (c == 0) ? edge_a[r] : pe_a[r][(c == 0) ? 0 : c - 1];
            assign b_in      = (r == 0) ? edge_b[c] : pe_b[(r == 0) ? 0 : r - 1][c];
            assign psum_in   = (r == 0) ? 32'd0 : pe_acc[(r == 0) ? 0 : r - 1][c];
            assign acc_below = (r == ROWS - 1) ? 32'd0 : pe_acc[(r == ROWS - 1) ? r : r + 1][c];
            mm_pe pe (
                .clk, .clear(issue), .step, .ws(ws_q), .fmode(fmode_q), .load_w, .drain,
                .a_in, .b_in, .psum_in, .acc_below,
                .a_q(pe_a[r][c]), .b_q(pe_b[r][c]), .acc_q(pe_acc[r][c])
            );
        end
    end

    // ---------------------------------------------------------------- results
    // os: row 0's accumulators. ws: column c's value from row k-1, delayed n-1-c steps. Then the
    // output stage's adds (C, bias) at the array's width; rq through mm_out_stage.
    logic [31:0] row_x [COLS];
    for (genvar c = 0; c < COLS; c++) begin : g_out
        localparam int D = COLS - 1 - c;   // the longest delay column c may need
        logic [31:0] bottom, delayed, val;
        assign bottom = pe_acc[krow_q][c];
        if (D == 0) begin : g_nodelay
            assign delayed = bottom;
        end else begin : g_delay
            logic [32*D-1:0] taps;
            logic [11:0]     dsel;         // n-1-c when c < n
            assign dsel = n_q - 12'd1 - 12'(c);
            tile_shift #(.WIDTH(32), .DEPTH(D)) deskew (
                .clk, .clear(issue), .en(step), .din(bottom), .taps);
            always_comb begin
                delayed = bottom;
                for (int d = 1; d <= D; d++)
                    if (32'(dsel) == d)
                        delayed = taps[32*(d-1) +: 32];
            end
        end
        assign val      = ws_q ? delayed : pe_acc[0][c];
        assign row_x[c] = val + (acc_q ? in_acc[c] : 32'd0) + (bias_q ? in_bias[c] : 32'd0);
        assign out_c[c] = 32'(c) < 32'(n_q) ? row_x[c] : 32'd0;
    end

    mm_out_stage #(.COLS(COLS), .LANES(LANES), .RECS(RECS)) stage (
        .clk, .rst,
        .cfg_tensor(issue_cfg), .cfg_scale(cmd_scale), .cfg_shift(cmd_shift),
        .cfg_load(issue_out), .cfg_axis(cmd_axis), .cfg_lut(cmd_lut), .cfg_lo(cmd_lo), .cfg_hi(cmd_hi),
        .cfg_n(cmd_n),
        .ld_fire, .ld_table,
        .ld_beat(12'(ld_table ? ld_t_q - ld_rec_beats_q : ld_t_q)),
        .ld_bias, .ld_mult, .ld_shift, .ld_entry,
        .x(row_x), .chunk(chunk_q), .row(row_q), .n(n_q), .y(out_q)
    );
endmodule
