// Simulation model of the ECP5 sysDSP 18x18 multiplier MULT18X18D, written for Lowbit from
// Lattice's description of the block (TN1267, "ECP5 and ECP5-5G sysDSP Usage Guide"): only the
// modes Lowbit instantiates (lowbit.hw.mul.ecp5). Its port and parameter names are those of
// Yosys's black box (share/ecp5/cells_bb.v), so Yosys's own netlists simulate with it too.
//
// Modelled: P = A x B, each operand signed or unsigned by SIGNEDA / SIGNEDB, through the
// optional input registers (A with SIGNEDA, B with SIGNEDB), the pipeline register and the
// output register. A register is used when its REG_*_CLK is "CLK0"; it then loads on the
// rising edge of CLK0 while its clock enable (REG_*_CE, "CE0".."CE3") is high, and its reset
// (REG_*_RST, "RST0".."RST3") clears it on the clock edge whatever the clock enable
// (RESETMODE "SYNC"). Registers start at 0 (the state after configuration).
// Not modelled, and refused at elaboration where a parameter says so: CLK1..CLK3, the input
// cascade (SOURCEA / SOURCEB must be 0: the model ignores them; SRIA / SRIB), the C input
// (ROC is 0), RESETMODE "ASYNC", MULT_BYPASS, HIGHSPEED_CLK and the clock dividers. ROA / ROB
// and SROA / SROB are driven with the operands after the input registers, which is all Lowbit
// needs of them (nothing reads them). GSR is not modelled (registers start at 0 anyway).
`timescale 1ns / 1ps
module MULT18X18D(
    A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0,
    SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0,
    SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0,
    SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0,
    SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0,
    ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0,
    ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0,
    ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0,
    P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0,
    SIGNEDP
);
    input A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0, B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0, C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0, SIGNEDA, SIGNEDB, SOURCEA, SOURCEB, CLK3, CLK2, CLK1, CLK0, CE3, CE2, CE1, CE0, RST3, RST2, RST1, RST0, SRIA17, SRIA16, SRIA15, SRIA14, SRIA13, SRIA12, SRIA11, SRIA10, SRIA9, SRIA8, SRIA7, SRIA6, SRIA5, SRIA4, SRIA3, SRIA2, SRIA1, SRIA0, SRIB17, SRIB16, SRIB15, SRIB14, SRIB13, SRIB12, SRIB11, SRIB10, SRIB9, SRIB8, SRIB7, SRIB6, SRIB5, SRIB4, SRIB3, SRIB2, SRIB1, SRIB0;
    output SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0, SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0, ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0, ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0, ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0, P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0, SIGNEDP;

    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    wire [3:0] ce = {CE3, CE2, CE1, CE0};
    wire [3:0] rst = {RST3, RST2, RST1, RST0};

    // "CEn" / "RSTn" -> n
    function integer select(input [8*4-1:0] name);
        select = name[7:0] - "0";
    endfunction

    initial begin
        if (REG_INPUTA_CLK != "NONE" && REG_INPUTA_CLK != "CLK0") $fatal(1, "MULT18X18D model: REG_INPUTA_CLK %s", REG_INPUTA_CLK);
        if (REG_INPUTB_CLK != "NONE" && REG_INPUTB_CLK != "CLK0") $fatal(1, "MULT18X18D model: REG_INPUTB_CLK %s", REG_INPUTB_CLK);
        if (REG_PIPELINE_CLK != "NONE" && REG_PIPELINE_CLK != "CLK0") $fatal(1, "MULT18X18D model: REG_PIPELINE_CLK %s", REG_PIPELINE_CLK);
        if (REG_OUTPUT_CLK != "NONE" && REG_OUTPUT_CLK != "CLK0") $fatal(1, "MULT18X18D model: REG_OUTPUT_CLK %s", REG_OUTPUT_CLK);
        if (REG_INPUTC_CLK != "NONE") $fatal(1, "MULT18X18D model: the C input is not modelled");
        if (MULT_BYPASS != "DISABLED") $fatal(1, "MULT18X18D model: MULT_BYPASS %s", MULT_BYPASS);
        if (HIGHSPEED_CLK != "NONE") $fatal(1, "MULT18X18D model: HIGHSPEED_CLK %s", HIGHSPEED_CLK);
        if (RESETMODE != "SYNC") $fatal(1, "MULT18X18D model: RESETMODE %s", RESETMODE);
    end

    wire [17:0] a_in = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0};
    wire [17:0] b_in = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0};

    // one register stage of the block: loads d while its enable is high, cleared by its reset
    `define LOWBIT_DSP_REG(q, d, width, ce_name, rst_name) \
        reg [width-1:0] q = 0; \
        always @(posedge CLK0) \
            if (rst[select(rst_name)]) q <= 0; else if (ce[select(ce_name)]) q <= d;

    `LOWBIT_DSP_REG(a_reg, {SIGNEDA, a_in}, 19, REG_INPUTA_CE, REG_INPUTA_RST)
    `LOWBIT_DSP_REG(b_reg, {SIGNEDB, b_in}, 19, REG_INPUTB_CE, REG_INPUTB_RST)
    wire [18:0] a_op = REG_INPUTA_CLK == "CLK0" ? a_reg : {SIGNEDA, a_in};
    wire [18:0] b_op = REG_INPUTB_CLK == "CLK0" ? b_reg : {SIGNEDB, b_in};

    // the exact product of two 19-bit two's-complement values (sign bit per SIGNEDx)
    wire signed [18:0] a_val = {a_op[18] & a_op[17], a_op[17:0]};
    wire signed [18:0] b_val = {b_op[18] & b_op[17], b_op[17:0]};
    wire signed [37:0] full = a_val * b_val;
    wire [36:0] product = {a_op[18] | b_op[18], full[35:0]};

    `LOWBIT_DSP_REG(pipe_reg, product, 37, REG_PIPELINE_CE, REG_PIPELINE_RST)
    wire [36:0] piped = REG_PIPELINE_CLK == "CLK0" ? pipe_reg : product;
    `LOWBIT_DSP_REG(out_reg, piped, 37, REG_OUTPUT_CE, REG_OUTPUT_RST)
    wire [36:0] result = REG_OUTPUT_CLK == "CLK0" ? out_reg : piped;
    `undef LOWBIT_DSP_REG

    assign {SIGNEDP, P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19, P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0} = result;
    assign {ROA17, ROA16, ROA15, ROA14, ROA13, ROA12, ROA11, ROA10, ROA9, ROA8, ROA7, ROA6, ROA5, ROA4, ROA3, ROA2, ROA1, ROA0} = a_op[17:0];
    assign {ROB17, ROB16, ROB15, ROB14, ROB13, ROB12, ROB11, ROB10, ROB9, ROB8, ROB7, ROB6, ROB5, ROB4, ROB3, ROB2, ROB1, ROB0} = b_op[17:0];
    assign {SROA17, SROA16, SROA15, SROA14, SROA13, SROA12, SROA11, SROA10, SROA9, SROA8, SROA7, SROA6, SROA5, SROA4, SROA3, SROA2, SROA1, SROA0} = a_op[17:0];
    assign {SROB17, SROB16, SROB15, SROB14, SROB13, SROB12, SROB11, SROB10, SROB9, SROB8, SROB7, SROB6, SROB5, SROB4, SROB3, SROB2, SROB1, SROB0} = b_op[17:0];
    assign {ROC17, ROC16, ROC15, ROC14, ROC13, ROC12, ROC11, ROC10, ROC9, ROC8, ROC7, ROC6, ROC5, ROC4, ROC3, ROC2, ROC1, ROC0} = 18'd0;
endmodule
