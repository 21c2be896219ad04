/**
 * mvdan-sh: mvdan/sh's own JavaScript (GopherJS) build of its Go shell parser. Only the parser is used;
 * the tree is read from the Go values themselves (see shell-syntax.ts), because the wrapper objects copy
 * every slice each time a field is read.
 */
declare module 'mvdan-sh' {
  export interface ParserOption {
    readonly __parserOption: unique symbol;
  }

  export interface ParsedFile {
    /** The Go *syntax.File behind the wrapper. */
    readonly __internal_object__: unknown;
  }

  export interface Parser {
    Parse(source: string, name: string): ParsedFile;
  }

  /** A Go error (syntax.ParseError) as GopherJS throws it. */
  export interface GoError {
    Error(): string;
  }

  export const syntax: {
    NewParser(...options: ParserOption[]): Parser;
    KeepComments(enabled: boolean): ParserOption;
    Variant(language: number): ParserOption;
    LangBash: number;
  };
}
