/** The widget's entry: defines `<wiro-flux>`. */
export {};
