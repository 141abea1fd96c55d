// Simulation model of the ECP5 sysMEM block RAM DP16KD, written for Lowbit: only the modes
// Lowbit instantiates (lowbit.hw.ram.ecp5) and those Yosys's own mapping uses
// (share/lattice/brams_map_16kd.v), with that mapping's pin conventions. Port and parameter
// names are those of Yosys's black box (share/ecp5/cells_bb.v), so Yosys's netlists simulate
// with it too.
//
// Modelled: one array of 16384 / 2^K words of DATA_WIDTH_A bits (1, 2, 4, 9, 18: K = 0..4,
// the word address on ADx[13:K]; 36: K = 5, the pseudo-dual-port mode), both ports of the same
// width. A port is active at a rising edge of its clock when CEx is high and {CSx2, CSx1, CSx0}
// equals CSDECODE_x. An active port with WEx high writes DIx (at 36 bits {DIB, DIA} through
// port A; port B only reads); at 18 bits ADx1 / ADx0 enable the 9-bit bytes, at 36 bits
// ADA3..ADA0. An active port reads the word at its address into its output latch, except while
// it writes: then WRITEMODE_x NORMAL keeps the latch, WRITETHROUGH loads the word written,
// READBEFOREWRITE the word before the write. REGMODE_x OUTREG adds an output register that
// loads the latch at each rising edge with OCEx high (at 36 bits the read is port B's: OCEB,
// and REGMODE_A must equal REGMODE_B); DOx shows the register, else the latch (at 36 bits the
// low 18 bits on DOA, the high on DOB). RSTx clears the latch and the register, at the edge
// (RESETMODE SYNC) or at once (ASYNC); it leaves the array alone. Everything starts at 0.
// A read of the word the other port writes at the same edge returns the bitwise inverse of the
// word written, and two writes of one word at one edge store the XOR of both: the block's
// result is undefined, and a design that relied on it would fail in simulation.
// The collision check assumes CLKA and CLKB are the same clock.
// Not modelled, and refused at elaboration: different widths on the two ports, inverted
// clocks, initial contents (INITVAL_xx must be 0). GSR, ASYNC_RESET_RELEASE and WID are
// ignored.
`timescale 1ns / 1ps
module DP16KD(
    DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0,
    CEA, OCEA, CLKA, WEA, RSTA,
    CSA2, CSA1, CSA0,
    DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0,
    DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0,
    CEB, OCEB, CLKB, WEB, RSTB,
    CSB2, CSB1, CSB0,
    DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0, ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0, CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0;
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0, ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0, CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0;
    output DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0;
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0;

    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter GSR = "ENABLED";
    parameter WID = 0;
    parameter INIT_DATA = "STATIC";
    parameter INITVAL_00 = 320'h0;
    parameter INITVAL_01 = 320'h0;
    parameter INITVAL_02 = 320'h0;
    parameter INITVAL_03 = 320'h0;
    parameter INITVAL_04 = 320'h0;
    parameter INITVAL_05 = 320'h0;
    parameter INITVAL_06 = 320'h0;
    parameter INITVAL_07 = 320'h0;
    parameter INITVAL_08 = 320'h0;
    parameter INITVAL_09 = 320'h0;
    parameter INITVAL_0A = 320'h0;
    parameter INITVAL_0B = 320'h0;
    parameter INITVAL_0C = 320'h0;
    parameter INITVAL_0D = 320'h0;
    parameter INITVAL_0E = 320'h0;
    parameter INITVAL_0F = 320'h0;
    parameter INITVAL_10 = 320'h0;
    parameter INITVAL_11 = 320'h0;
    parameter INITVAL_12 = 320'h0;
    parameter INITVAL_13 = 320'h0;
    parameter INITVAL_14 = 320'h0;
    parameter INITVAL_15 = 320'h0;
    parameter INITVAL_16 = 320'h0;
    parameter INITVAL_17 = 320'h0;
    parameter INITVAL_18 = 320'h0;
    parameter INITVAL_19 = 320'h0;
    parameter INITVAL_1A = 320'h0;
    parameter INITVAL_1B = 320'h0;
    parameter INITVAL_1C = 320'h0;
    parameter INITVAL_1D = 320'h0;
    parameter INITVAL_1E = 320'h0;
    parameter INITVAL_1F = 320'h0;
    parameter INITVAL_20 = 320'h0;
    parameter INITVAL_21 = 320'h0;
    parameter INITVAL_22 = 320'h0;
    parameter INITVAL_23 = 320'h0;
    parameter INITVAL_24 = 320'h0;
    parameter INITVAL_25 = 320'h0;
    parameter INITVAL_26 = 320'h0;
    parameter INITVAL_27 = 320'h0;
    parameter INITVAL_28 = 320'h0;
    parameter INITVAL_29 = 320'h0;
    parameter INITVAL_2A = 320'h0;
    parameter INITVAL_2B = 320'h0;
    parameter INITVAL_2C = 320'h0;
    parameter INITVAL_2D = 320'h0;
    parameter INITVAL_2E = 320'h0;
    parameter INITVAL_2F = 320'h0;
    parameter INITVAL_30 = 320'h0;
    parameter INITVAL_31 = 320'h0;
    parameter INITVAL_32 = 320'h0;
    parameter INITVAL_33 = 320'h0;
    parameter INITVAL_34 = 320'h0;
    parameter INITVAL_35 = 320'h0;
    parameter INITVAL_36 = 320'h0;
    parameter INITVAL_37 = 320'h0;
    parameter INITVAL_38 = 320'h0;
    parameter INITVAL_39 = 320'h0;
    parameter INITVAL_3A = 320'h0;
    parameter INITVAL_3B = 320'h0;
    parameter INITVAL_3C = 320'h0;
    parameter INITVAL_3D = 320'h0;
    parameter INITVAL_3E = 320'h0;
    parameter INITVAL_3F = 320'h0;

    localparam W = DATA_WIDTH_A;
    localparam PDP = W == 36;
    localparam K = W == 1 ? 0 : W == 2 ? 1 : W == 4 ? 2 : W == 9 ? 3 : W == 18 ? 4 : 5;
    localparam AW = 14 - K;

    function automatic check_mode(input [8*15-1:0] mode);
        check_mode = mode == "NORMAL" || mode == "WRITETHROUGH" || mode == "READBEFOREWRITE";
    endfunction

    initial begin
        if (W != 1 && W != 2 && W != 4 && W != 9 && W != 18 && W != 36) $fatal(1, "DP16KD model: DATA_WIDTH_A %0d", W);
        if (DATA_WIDTH_B != W) $fatal(1, "DP16KD model: DATA_WIDTH_B %0d differs from DATA_WIDTH_A %0d", DATA_WIDTH_B, W);
        if (REGMODE_A != "NOREG" && REGMODE_A != "OUTREG") $fatal(1, "DP16KD model: REGMODE_A %s", REGMODE_A);
        if (REGMODE_B != "NOREG" && REGMODE_B != "OUTREG") $fatal(1, "DP16KD model: REGMODE_B %s", REGMODE_B);
        if (PDP && REGMODE_A != REGMODE_B) $fatal(1, "DP16KD model: REGMODE_A %s and REGMODE_B %s at 36 bits", REGMODE_A, REGMODE_B);
        if (!check_mode(WRITEMODE_A) || !check_mode(WRITEMODE_B)) $fatal(1, "DP16KD model: WRITEMODE %s / %s", WRITEMODE_A, WRITEMODE_B);
        if (RESETMODE != "SYNC" && RESETMODE != "ASYNC") $fatal(1, "DP16KD model: RESETMODE %s", RESETMODE);
        if (CLKAMUX != "CLKA" || CLKBMUX != "CLKB") $fatal(1, "DP16KD model: inverted clocks");
        if (|{INITVAL_00, INITVAL_01, INITVAL_02, INITVAL_03, INITVAL_04, INITVAL_05, INITVAL_06, INITVAL_07,
              INITVAL_08, INITVAL_09, INITVAL_0A, INITVAL_0B, INITVAL_0C, INITVAL_0D, INITVAL_0E, INITVAL_0F,
              INITVAL_10, INITVAL_11, INITVAL_12, INITVAL_13, INITVAL_14, INITVAL_15, INITVAL_16, INITVAL_17,
              INITVAL_18, INITVAL_19, INITVAL_1A, INITVAL_1B, INITVAL_1C, INITVAL_1D, INITVAL_1E, INITVAL_1F,
              INITVAL_20, INITVAL_21, INITVAL_22, INITVAL_23, INITVAL_24, INITVAL_25, INITVAL_26, INITVAL_27,
              INITVAL_28, INITVAL_29, INITVAL_2A, INITVAL_2B, INITVAL_2C, INITVAL_2D, INITVAL_2E, INITVAL_2F,
              INITVAL_30, INITVAL_31, INITVAL_32, INITVAL_33, INITVAL_34, INITVAL_35, INITVAL_36, INITVAL_37,
              INITVAL_38, INITVAL_39, INITVAL_3A, INITVAL_3B, INITVAL_3C, INITVAL_3D, INITVAL_3E, INITVAL_3F}) $fatal(1, "DP16KD model: initial contents are not modelled");
    end

    // "0bXYZ" -> {X, Y, Z}
    function automatic [2:0] cs_code(input [8*5-1:0] decode);
        cs_code = {decode[23:16] == "1", decode[15:8] == "1", decode[7:0] == "1"};
    endfunction

    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};
    wire [17:0] dib = {DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6, DIB5, DIB4, DIB3, DIB2, DIB1, DIB0};
    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1, ADB0};
    wire sel_a = {CSA2, CSA1, CSA0} == cs_code(CSDECODE_A);
    wire sel_b = {CSB2, CSB1, CSB0} == cs_code(CSDECODE_B);
    wire [AW-1:0] wa = ada[13:K];
    wire [AW-1:0] wb = adb[13:K];
    // byte enables, one per 9-bit byte
    wire [3:0] be_a = PDP ? ada[3:0] : W == 18 ? {2'b00, ada[1:0]} : 4'b1111;
    wire [3:0] be_b = W == 18 ? {2'b00, adb[1:0]} : 4'b1111;
    wire [35:0] din_a = PDP ? {dib, dia} : {18'd0, dia};
    wire [35:0] din_b = {18'd0, dib};
    wire active_a = CEA & sel_a, active_b = CEB & sel_b;
    // a write with every byte enable low writes nothing (Yosys's 36-bit mapping ties WEA high
    // and writes through the byte enables)
    wire wr_a = active_a & WEA & |be_a;
    wire wr_b = !PDP & active_b & WEB & |be_b;

    reg [W-1:0] mem [0:(1 << AW) - 1];
    integer i;
    initial for (i = 0; i < (1 << AW); i = i + 1) mem[i] = 0;

    function automatic [W-1:0] merge(input [W-1:0] old, input [35:0] d, input [3:0] be);
        integer b;
        for (b = 0; b < W; b = b + 1) merge[b] = be[b / 9] ? d[b] : old[b];
    endfunction

    wire [W-1:0] new_a = merge(mem[wa], din_a, be_a);
    wire [W-1:0] new_b = merge(mem[wb], din_b, be_b);
    wire same = wa == wb;
    reg [W-1:0] latch_a = 0, latch_b = 0, out_a = 0, out_b = 0;

    // RESETMODE SYNC: RSTx acts at the clock edge; ASYNC: at once
    wire arst_a = RESETMODE == "ASYNC" && RSTA, srst_a = RESETMODE == "SYNC" && RSTA;
    wire arst_b = RESETMODE == "ASYNC" && RSTB, srst_b = RESETMODE == "SYNC" && RSTB;

    always @(posedge CLKA)
        if (wr_a) mem[wa] <= wr_b && same ? new_a ^ new_b : new_a;

    always @(posedge CLKB)
        if (wr_b && !(wr_a && same)) mem[wb] <= new_b;

    always @(posedge CLKA or posedge arst_a) begin
        if (arst_a || srst_a) begin
            latch_a <= 0;
            out_a <= 0;
        end else begin
            if (!PDP && active_a) begin
                if (wr_a) begin
                    if (WRITEMODE_A == "WRITETHROUGH") latch_a <= new_a;
                    else if (WRITEMODE_A == "READBEFOREWRITE") latch_a <= mem[wa];
                end else
                    latch_a <= wr_b && same ? ~new_b : mem[wa];
            end
            if (OCEA) out_a <= latch_a;
        end
    end

    always @(posedge CLKB or posedge arst_b) begin
        if (arst_b || srst_b) begin
            latch_b <= 0;
            out_b <= 0;
        end else begin
            if (active_b) begin
                if (wr_b) begin
                    if (WRITEMODE_B == "WRITETHROUGH") latch_b <= new_b;
                    else if (WRITEMODE_B == "READBEFOREWRITE") latch_b <= mem[wb];
                end else
                    latch_b <= wr_a && same ? ~new_a : mem[wb];
            end
            if (OCEB) out_b <= latch_b;
        end
    end

    wire [35:0] do_a = REGMODE_A == "OUTREG" ? out_a : latch_a;
    wire [35:0] do_b = REGMODE_B == "OUTREG" ? out_b : latch_b;
    assign {DOA17, DOA16, DOA15, DOA14, DOA13, DOA12, DOA11, DOA10, DOA9, DOA8, DOA7, DOA6, DOA5, DOA4, DOA3, DOA2, DOA1, DOA0} = PDP ? do_b[17:0] : do_a[17:0];
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6, DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = PDP ? do_b[35:18] : do_b[17:0];
endmodule
